// Handlers that do what a careless plugin author's code does: each must cost
// its own request only, never the host (isolation = "process").
#include <fcgihost/plugin.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

namespace {

int ok(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\nok from " << ::getpid() << "\n";
  return 0;
}

// Not inlined, so that the backtrace shows it by name.
[[gnu::noinline]] int write_through_null(volatile int* where) {
  *where = 42;
  return *where;
}

int segfault(fcgihost::request&) { return write_through_null(nullptr); }

int do_abort(fcgihost::request&) { std::abort(); }

int terminate(fcgihost::request&) { std::terminate(); }

int exit3(fcgihost::request& r) {
  r.out() << std::flush;
  std::exit(3);
}

// Crashes after its response has started.
int crash_late(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\nthe start of a response\n" << std::flush;
  return write_through_null(nullptr);
}

// Spins without ever looking at its stop token.
int spin(fcgihost::request& r) {
  volatile unsigned long long counter = 0;
  while (true) counter = counter + 1;
  (void)r;
}

// Keeps QUERY_STRING MiB allocated and touched for as long as its process lives.
std::vector<std::vector<char>> kept;
int hog(fcgihost::request& r) {
  const auto mib = std::stoul(std::string(r.param("QUERY_STRING").empty() ? "1" : r.param("QUERY_STRING")));
  kept.emplace_back(mib * 1024 * 1024, 'x');
  r.out() << "Content-Type: text/plain\r\n\r\nholding " << kept.size() << " blocks in " << ::getpid() << "\n";
  return 0;
}

// Who the handler runs as.
int whoami(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\nuid=" << ::getuid() << " gid=" << ::getgid() << "\n";
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(ok)
FCGIHOST_HANDLER(segfault)
FCGIHOST_HANDLER_AS(do_abort, "abort")
FCGIHOST_HANDLER(terminate)
FCGIHOST_HANDLER(exit3)
FCGIHOST_HANDLER_AS(crash_late, "crash-late")
FCGIHOST_HANDLER(spin)
FCGIHOST_HANDLER(hog)
FCGIHOST_HANDLER(whoami)
