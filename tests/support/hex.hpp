// Literal byte strings for codec tests: hex("01 06 00 02") and printable dumps.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace fcgihost::test {

// Whitespace-separated hex bytes; quoted text in '...' is taken literally.
inline std::string hex(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == ' ' || c == '\n') {
      ++i;
    } else if (c == '\'') {
      const auto close = text.find('\'', i + 1);
      if (close == std::string_view::npos) throw std::invalid_argument("unclosed quote in hex literal");
      out.append(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
      i += 2;
    }
  }
  return out;
}

inline std::string dump(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace fcgihost::test
