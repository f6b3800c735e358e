// Fuzzes the SDK's decoding of what clients send (query strings, form
// bodies, Cookie headers): no crash, no read out of bounds, and decoding
// never makes text longer.
#include <fcgihost/form.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (fcgihost::percent_decode(text).size() > size) std::abort();
  std::size_t total = 0;
  for (const auto& [name, value] : fcgihost::parse_form(text)) total += name.size() + value.size();
  if (total > size) std::abort();
  total = 0;
  for (const auto& [name, value] : fcgihost::parse_cookies(text)) total += name.size() + value.size();
  if (total > size) std::abort();
  return 0;
}
