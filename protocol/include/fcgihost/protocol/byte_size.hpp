// Byte counts as people write them in settings and on command lines shared
// by fcgi-host (script-memory) and fcgi-bench (--body-size): 512, 64K, 2G
// (binary suffixes, either case). Parsing only.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace fcgihost::protocol {

// Empty for anything else, or for more than 2^62 bytes.
inline std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view suffix(end, text.data() + text.size());
  unsigned shift = 0;
  if (suffix == "K" || suffix == "k")
    shift = 10;
  else if (suffix == "M" || suffix == "m")
    shift = 20;
  else if (suffix == "G" || suffix == "g")
    shift = 30;
  if (ec != std::errc{} || (!suffix.empty() && shift == 0) || number > (std::uint64_t{1} << (62 - shift)))
    return std::nullopt;
  return number << shift;
}

}  // namespace fcgihost::protocol
