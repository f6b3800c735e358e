// Handlers that get their output or their stop token wrong, the way a
// careless plugin author would: the host must answer for them and stay well.
#include <fcgihost/plugin.hpp>

#include <charconv>
#include <string>

namespace {

// Prints a body with no CGI header block.
int no_head(fcgihost::request& r) {
  r.out() << "hello, but no headers\n";
  return 0;
}

// Prints nothing at all.
int nothing(fcgihost::request&) { return 0; }

// Writes the MiB the query asks for (256 without one), looking neither at
// its stop token nor at the stream's state.
int flood(fcgihost::request& r) {
  const auto query = r.param("QUERY_STRING");
  std::size_t mebibytes = 256;
  std::from_chars(query.data(), query.data() + query.size(), mebibytes);
  r.out() << "Content-Type: application/octet-stream\r\n\r\n";
  const std::string block(64 * 1024, 'f');
  for (std::size_t i = 0; i < mebibytes * 16; ++i) r.out().write(block.data(), static_cast<std::streamsize>(block.size()));
  return 0;
}

}  // namespace

FCGIHOST_HANDLER_AS(no_head, "no-head")
FCGIHOST_HANDLER(nothing)
FCGIHOST_HANDLER(flood)
