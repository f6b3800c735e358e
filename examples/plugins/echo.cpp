// echo.body streams FCGI_STDIN back as it arrives; echo.params lists every
// parameter; echo.status answers with the HTTP status given in the query;
// echo.bytes answers as many bytes as the query says (65536 without one).
#include <fcgihost/plugin.hpp>

#include <charconv>
#include <string>

namespace {

int body(fcgihost::request& r) {
  r.out() << "Content-Type: application/octet-stream\r\n\r\n";
  char buffer[64 * 1024];
  while (r.in().read(buffer, sizeof buffer) || r.in().gcount() > 0) {
    r.out().write(buffer, r.in().gcount());
    if (r.stop_requested()) return 1;
  }
  return 0;
}

int params(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\n";
  for (const auto& [name, value] : r.params()) r.out() << name << "=" << value << "\n";
  return 0;
}

int status(fcgihost::request& r) {
  const auto query = r.param("QUERY_STRING");
  int code = 200;
  std::from_chars(query.data(), query.data() + query.size(), code);
  r.out() << "Status: " << code << " Custom\r\nContent-Type: text/plain\r\n\r\nstatus " << code << "\n";
  return code;
}

int bytes(fcgihost::request& r) {
  const auto query = r.param("QUERY_STRING");
  std::size_t count = 65536;
  std::from_chars(query.data(), query.data() + query.size(), count);
  r.out() << "Content-Type: application/octet-stream\r\nContent-Length: " << count << "\r\n\r\n";
  const std::string block(4096, 'x');
  for (std::size_t left = count; left > 0 && !r.stop_requested();) {
    const std::size_t now = left < block.size() ? left : block.size();
    r.out().write(block.data(), static_cast<std::streamsize>(now));
    left -= now;
  }
  return 0;
}

}  // namespace

FCGIHOST_HANDLER_AS(body, "body")
FCGIHOST_HANDLER(params)
FCGIHOST_HANDLER(status)
FCGIHOST_HANDLER(bytes)
