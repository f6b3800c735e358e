#include "json_text.hpp"

#include <cstdio>

#include <host/common/utf8.hpp>

namespace fcgihost::host {

namespace {

void append_escaped_code_point(std::string& out, unsigned value) {
  char escaped[8];
  std::snprintf(escaped, sizeof escaped, "\\u%04x", value);
  out += escaped;
}

}  // namespace

std::string json_quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    const std::size_t length = utf8_sequence_length(text);
    if (length == 0) {
      append_escaped_code_point(out, c);  // not UTF-8: the byte as U+00XX
      text.remove_prefix(1);
      continue;
    }
    if (length == 2 && c == 0xC2 && static_cast<unsigned char>(text[1]) < 0xA0) {
      append_escaped_code_point(out, static_cast<unsigned char>(text[1]));  // a C1 control, U+0080..U+009F
    } else if (length > 1) {
      out.append(text.substr(0, length));
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      append_escaped_code_point(out, c);
    } else {
      out += static_cast<char>(c);
    }
    text.remove_prefix(length);
  }
  out += '"';
  return out;
}

}  // namespace fcgihost::host
