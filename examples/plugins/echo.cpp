// echo.body streams FCGI_STDIN back as it arrives; echo.params lists every
// parameter; echo.status answers with the HTTP status given in the query.
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

}  // namespace

FCGIHOST_HANDLER_AS(body, "body")
FCGIHOST_HANDLER(params)
FCGIHOST_HANDLER(status)
