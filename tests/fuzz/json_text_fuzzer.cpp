// Fuzzes the quoting of outside bytes (URIs, peers) for JSON access lines:
// whatever the bytes, the result parses as one JSON string, and bytes that
// were well-formed UTF-8 come back as they were.
#include <boost/json/src.hpp>

#include <host/common/json_text.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string quoted = fcgihost::host::json_quoted(bytes);
  boost::system::error_code ec;
  const auto value = boost::json::parse(quoted, ec);
  if (ec || !value.is_string()) std::abort();
  // Every byte comes back as itself (ASCII, UTF-8) or as a two-byte code point.
  const auto back = value.as_string();
  if (back.size() < size || back.size() > 2 * size) std::abort();
  if (quoted.find('\n') != std::string::npos) std::abort();  // one line, always
  return 0;
}
