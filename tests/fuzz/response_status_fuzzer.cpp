// Fuzzes the reader of an app's CGI headers (the status in the access log):
// app output is outside input too. No crash, a status always in range, and
// the same status whatever the pieces the output arrives in.
#include <fcgihost/protocol/response_status.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] % 29 + 1;
  const std::string_view output(reinterpret_cast<const char*>(data + 1), size - 1);
  fcgihost::protocol::response_status whole;
  whole.feed(output);
  fcgihost::protocol::response_status pieces;
  for (std::size_t at = 0; at < output.size(); at += piece) pieces.feed(output.substr(at, piece));
  if (whole.status() < 100 || whole.status() > 999) std::abort();
  if (whole.status() != pieces.status()) std::abort();
  return 0;
}
