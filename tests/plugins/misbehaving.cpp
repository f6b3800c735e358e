// Handlers that get their output or their stop token wrong, the way a
// careless plugin author would: the host must answer for them and stay well.
#include <fcgihost/plugin.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
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

// A header value with a bare CR in it: a web server that passed it on would
// let the plugin (or whoever chose the value) add a header of its own.
int split_header(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\nX-Note: one\rSet-Cookie: evil=1\r\n\r\nbody\n";
  return 0;
}

// Prints the value of the environment variable the query names ("(unset)"
// if there is none): what a plugin's getenv sees (httpoxy: HTTP_PROXY).
int environment(fcgihost::request& r) {
  const std::string name(r.param("QUERY_STRING"));
  const char* value = std::getenv(name.c_str());
  r.out() << "Content-Type: text/plain\r\n\r\n" << (value ? value : "(unset)");
  return 0;
}

// Leaves a `sleep 600` running and prints its pid: forked into the
// worker's process group ("fork"), or a daemon in a session of its own whose
// parent has gone ("daemon": fork, setsid, fork again).
int leave_child(fcgihost::request& r) {
  const bool daemon = r.param("QUERY_STRING") == "daemon";
  int pids[2];
  if (::pipe(pids) != 0) return 1;
  const pid_t child = ::fork();
  if (child == 0) {
    if (daemon) {
      ::setsid();
      if (::fork() != 0) ::_exit(0);
    }
    const pid_t self = ::getpid();
    [[maybe_unused]] const auto told = ::write(pids[1], &self, sizeof self);
    ::close(pids[0]);
    ::close(pids[1]);
    ::execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(pids[1]);
  pid_t left = 0;
  [[maybe_unused]] const auto heard = ::read(pids[0], &left, sizeof left);
  ::close(pids[0]);
  if (daemon) ::waitpid(child, nullptr, 0);  // the intermediate one
  r.out() << "Content-Type: text/plain\r\n\r\n" << left;
  return 0;
}

}  // namespace

FCGIHOST_HANDLER_AS(no_head, "no-head")
FCGIHOST_HANDLER(nothing)
FCGIHOST_HANDLER(flood)
FCGIHOST_HANDLER_AS(split_header, "split-header")
FCGIHOST_HANDLER(environment)
FCGIHOST_HANDLER_AS(leave_child, "leave-child")
