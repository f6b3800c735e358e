// Text a signal handler may make: no allocation, no locale, no stdio.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fcgihost::runners {

// Writes "LABEL 0xHEX\n" at `out` (room for the label and 21 more bytes);
// returns how many bytes it wrote.
inline std::size_t format_hex_line(char* out, const char* label, std::uintptr_t value) {
  std::size_t at = 0;
  for (const char* c = label; *c; ++c) out[at++] = *c;
  out[at++] = ' ';
  out[at++] = '0';
  out[at++] = 'x';
  char digits[16];
  int count = 0;
  do {
    digits[count++] = "0123456789abcdef"[value & 15];
    value >>= 4;
  } while (value != 0);
  while (count > 0) out[at++] = digits[--count];
  out[at++] = '\n';
  return at;
}

}  // namespace fcgihost::runners
