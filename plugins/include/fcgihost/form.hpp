// Query strings, application/x-www-form-urlencoded bodies and cookies, as a
// handler reads them: percent-decoded, in the order they came, every value
// of a repeated name kept. Header-only, standard library only; the input is
// whatever a client sent, so any bytes at all parse (a bad escape stays as
// it is, as browsers and PHP leave it).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcgihost {

// "%41+b" -> "A b" (with plus_is_space, as in forms and query strings).
inline std::string percent_decode(std::string_view text, bool plus_is_space = true) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      decoded += ' ';
    } else if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      decoded += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      decoded += c;
    }
  }
  return decoded;
}

// Name/value pairs, in order; a name may come more than once.
class form_fields {
 public:
  using field = std::pair<std::string, std::string>;

  form_fields() = default;
  explicit form_fields(std::vector<field> fields) : fields_(std::move(fields)) {}

  // The first value of `name`, or nothing.
  std::optional<std::string_view> get(std::string_view name) const& {
    for (const auto& [key, value] : fields_)
      if (key == name) return std::string_view(value);
    return std::nullopt;
  }
  // The first value of `name`, or `fallback`.
  std::string_view value_or(std::string_view name, std::string_view fallback) const& {
    return get(name).value_or(fallback);
  }
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Every value of `name` ("?tag=a&tag=b"), in order.
  std::vector<std::string_view> all(std::string_view name) const& {
    std::vector<std::string_view> values;
    for (const auto& [key, value] : fields_)
      if (key == name) values.emplace_back(value);
    return values;
  }
  // On a temporary (parse_form(text).value_or(...)), copies: a view into it
  // would dangle at the end of the statement.
  std::optional<std::string> get(std::string_view name) && {
    const auto found = std::as_const(*this).get(name);
    return found ? std::optional<std::string>(std::string(*found)) : std::nullopt;
  }
  std::string value_or(std::string_view name, std::string_view fallback) && {
    return std::string(std::as_const(*this).value_or(name, fallback));
  }
  std::vector<std::string> all(std::string_view name) && {
    const auto views = std::as_const(*this).all(name);
    return std::vector<std::string>(views.begin(), views.end());
  }
  const std::vector<field>& fields() const { return fields_; }
  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<field> fields_;
};

// "a=1&b=x+y&flag" -> {a: 1}, {b: x y}, {flag: ""}. Empty pieces ("a=1&&b=2") are skipped.
inline form_fields parse_form(std::string_view text) {
  std::vector<form_fields::field> fields;
  while (!text.empty()) {
    const auto amp = text.find('&');
    const std::string_view piece = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (piece.empty()) continue;
    const auto equals = piece.find('=');
    if (equals == std::string_view::npos)
      fields.emplace_back(percent_decode(piece), std::string());
    else
      fields.emplace_back(percent_decode(piece.substr(0, equals)), percent_decode(piece.substr(equals + 1)));
  }
  return form_fields(std::move(fields));
}

// A Cookie header ("a=1; b=\"two\""): names and values as sent, a quoted
// value unquoted, percent escapes left as they are (cookies set them as
// their writer chose). Pieces without '=' are skipped.
inline form_fields parse_cookies(std::string_view header) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  std::vector<form_fields::field> fields;
  while (!header.empty()) {
    const auto semicolon = header.find(';');
    const std::string_view piece = trim(header.substr(0, semicolon));
    header = semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
    const auto equals = piece.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    std::string_view value = trim(piece.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    fields.emplace_back(std::string(trim(piece.substr(0, equals))), std::string(value));
  }
  return form_fields(std::move(fields));
}

}  // namespace fcgihost
