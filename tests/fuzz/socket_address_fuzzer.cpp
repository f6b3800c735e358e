// Fuzzes the --listen / --connect address parser: no crash, and whatever it
// accepts prints back to text that parses to the same address.
#include <fcgihost/protocol/socket_address.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

using namespace fcgihost::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  const auto parsed = parse_socket_address(text, why);
  if (!parsed) {
    if (why.empty()) std::abort();
    return 0;
  }
  const auto again = parse_socket_address(parsed->to_string(), why);
  if (!again || again->type != parsed->type || again->path != parsed->path || again->host != parsed->host ||
      again->port != parsed->port || again->fd != parsed->fd)
    std::abort();
  return 0;
}
