#include "log_text.hpp"

#include <host/common/utf8.hpp>

namespace fcgihost::host {

namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7F; }

// The length of the run at the start of `text` that is written as it is:
// printable ASCII or well-formed UTF-8. 0 if its first byte is escaped.
std::size_t kept_length(std::string_view text) {
  if (is_control(static_cast<unsigned char>(text.front()))) return 0;
  const std::size_t length = utf8_sequence_length(text);
  // U+0080..U+009F are control characters too (0x9B is a terminal's CSI).
  if (length == 2 && static_cast<unsigned char>(text[0]) == 0xC2 && static_cast<unsigned char>(text[1]) < 0xA0)
    return 0;
  return length;
}

}  // namespace

bool log_safe(std::string_view text) {
  while (!text.empty()) {
    const std::size_t length = kept_length(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

std::string log_escaped(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    if (const std::size_t length = kept_length(text)) {
      out.append(text.substr(0, length));
      text.remove_prefix(length);
      continue;
    }
    const auto c = static_cast<unsigned char>(text.front());
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 0xF];
    text.remove_prefix(1);
  }
  return out;
}

}  // namespace fcgihost::host
