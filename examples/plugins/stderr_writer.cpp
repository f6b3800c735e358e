// stderr_writer.warn: writes to FCGI_STDERR (the web server's error log) and a
// short page to FCGI_STDOUT.
#include <fcgihost/plugin.hpp>

namespace {

int warn(fcgihost::request& r) {
  r.err() << "stderr_writer: something to log for " << r.param("REQUEST_URI") << std::endl;
  r.out() << "Content-Type: text/plain\r\n\r\nlogged a warning\n";
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(warn)
