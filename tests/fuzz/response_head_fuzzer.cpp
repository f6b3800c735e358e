// Fuzzes the check of an app's CGI header block (502 when it fails): app
// output is outside input too. No crash, and the same verdict whatever the
// pieces the output arrives in; a valid head is one that really ends with a
// blank line within the limit.
#include <fcgihost/protocol/response_head.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = data[0] % 31 + 1;
  const std::string_view output(reinterpret_cast<const char*>(data + 1), size - 1);
  using check = fcgihost::protocol::response_head_check;
  check whole;
  whole.feed(output);
  const auto verdict = whole.finish();
  check pieces;
  for (std::size_t at = 0; at < output.size(); at += piece) pieces.feed(output.substr(at, piece));
  if (pieces.finish() != verdict) std::abort();
  if (verdict == check::verdict::valid && output.find("\n\n") == std::string_view::npos &&
      output.find("\n\r\n") == std::string_view::npos)
    std::abort();
  if (verdict == check::verdict::invalid && whole.reason().empty()) std::abort();
  // A valid head holds no NUL, and a CR only at the end of a line.
  if (verdict == check::verdict::valid) {
    auto end = output.find("\n\n");
    end = std::min(end, output.find("\n\r\n"));
    const std::string_view head = output.substr(0, end + 1);
    if (head.find('\0') != std::string_view::npos) std::abort();
    for (std::size_t at = head.find('\r'); at != std::string_view::npos; at = head.find('\r', at + 1))
      if (at + 1 >= output.size() || output[at + 1] != '\n') std::abort();
  }
  return 0;
}
