// Handlers that do what a careless plugin author's code does: each must cost
// its own request only, never the host (isolation = "process").
#include <fcgihost/plugin.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
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

// Recurses until its stack runs out: the crash is reported from the
// worker's alternate signal stack. Named, not inlined, not a tail call.
[[gnu::noinline]] int recurse_deeply(volatile char* previous) {
  if (previous && previous[0] == 0x7F) return 0;  // never: each frame holds 1
  volatile char frame[512];
  frame[0] = previous ? previous[0] : 1;
  return recurse_deeply(frame) + frame[1];
}

int overflow(fcgihost::request&) { return recurse_deeply(nullptr); }

// Dies with a crash report of its own making, whose only frames lie in the
// file the query names (a FIFO, say): what a hostile plugin can write to
// the report pipe (descriptor 4) for the host to read.
int forged_report(fcgihost::request& r) {
  const std::string named(r.param("QUERY_STRING"));
  const std::string report = "signal b\nframe 1100\nframe 1100\nframe 1100\nframe 1100\nmaps\n"
                             "1000-2000 r-xp 00000000 00:00 0 " + named + "\n";
  if (::write(4, report.data(), report.size()) < 0) return 1;
  ::signal(SIGSEGV, SIG_DFL);  // no real report after it
  ::raise(SIGSEGV);
  return 0;
}

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

// For the tests of requests sent to a busy worker: QUERY_STRING
// "mark=PATH&ms=N&crash=1", each part optional. Creates PATH, which must not
// exist yet (a request run twice answers 500), sleeps N ms, then crashes or
// answers "probe PATH".
std::string query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto part = query.substr(0, amp);
    if (part.size() > key.size() && part.starts_with(key) && part[key.size()] == '=')
      return std::string(part.substr(key.size() + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

int probe(fcgihost::request& r) {
  const std::string query(r.param("QUERY_STRING"));
  const auto mark = query_value(query, "mark");
  if (!mark.empty()) {
    const int fd = ::open(mark.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) {
      r.out() << "Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nran twice: " << mark << "\n";
      return 1;
    }
    ::close(fd);
  }
  if (const auto ms = query_value(query, "ms"); !ms.empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(ms)));
  if (query_value(query, "crash") == "1") return write_through_null(nullptr);
  r.out() << "Content-Type: text/plain\r\n\r\nprobe " << mark << "\n";
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(ok)
FCGIHOST_HANDLER(probe)
FCGIHOST_HANDLER(segfault)
FCGIHOST_HANDLER(overflow)
FCGIHOST_HANDLER_AS(forged_report, "forged-report")
FCGIHOST_HANDLER_AS(do_abort, "abort")
FCGIHOST_HANDLER(terminate)
FCGIHOST_HANDLER(exit3)
FCGIHOST_HANDLER_AS(crash_late, "crash-late")
FCGIHOST_HANDLER(spin)
FCGIHOST_HANDLER(hog)
FCGIHOST_HANDLER(whoami)
