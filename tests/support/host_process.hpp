// A real fcgi-host for a test: its own temp folder, unix socket and plugins
// folder (holding copies of the example plugins it asks for), started and
// stopped with the test.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <client/connection.hpp>

#include "child_process.hpp"

namespace fcgihost::test {

struct host_options {
  std::vector<std::string> arguments;  // more flags for fcgi-host
  std::vector<std::string> plugins{"hello", "echo", "slow", "thrower", "stderr_writer"};
  std::vector<std::string> environment;  // NAME=VALUE
  // Listen on 127.0.0.1 (a port the system picks) instead of a unix socket;
  // and, with tcp_v6_too, on [::1] as well. The test binds the sockets and
  // hands them to the host as --listen fd:N, so no port can be taken meanwhile.
  bool tcp = false;
  bool tcp_v6_too = false;
  // Copy examples/scripts and tests/scripts into a scripts folder, and serve it.
  bool scripts = false;
  // When the tests run as root: the host runs as `nobody` (limits such as
  // RLIMIT_NPROC do not apply to root).
  bool unprivileged = false;
  // Run a copy of fcgi-host in the host's folder (binary_path()), which a
  // test may replace with another build.
  bool own_binary = false;
};

inline host_options with_arguments(std::vector<std::string> arguments) {
  host_options options;
  options.arguments = std::move(arguments);
  return options;
}

class host_process {
 public:
  explicit host_process(host_options options = {});
  // Stops the host; a host that crashed (SIGSEGV, SIGBUS, SIGABRT...) at any
  // time fails the test that ran it, whatever else the test checked.
  ~host_process();
  host_process(const host_process&) = delete;
  host_process& operator=(const host_process&) = delete;

  const std::string& address() const { return address_; }
  // Every address the host listens on: the unix socket or tcp:127.0.0.1:PORT,
  // then tcp:[::1]:PORT with tcp_v6_too.
  const std::vector<std::string>& addresses() const { return addresses_; }
  std::filesystem::path plugins_dir() const { return dir_ / "plugins"; }
  std::filesystem::path socket_path() const { return dir_ / "host.sock"; }
  std::filesystem::path scripts_dir() const { return dir_ / "scripts"; }
  std::filesystem::path binary_path() const { return dir_ / "bin" / "fcgi-host"; }
  // SCRIPT_FILENAME of a script copied into the scripts folder.
  std::string script(const std::string& name) const { return (scripts_dir() / name).string(); }
  std::string log() const { return read_file(dir_ / "stderr"); }
  // Waits (bounded) until the log contains `text`: lines written after a
  // response went out (the access line) may lag the client by a moment.
  bool wait_for_log(const std::string& text, std::chrono::seconds limit = std::chrono::seconds(10)) const;
  // Waits (bounded) until `text` is in the log `count` times; returns how
  // many times it is there then.
  std::size_t wait_for_log_count(const std::string& text, std::size_t count,
                                 std::chrono::seconds limit = std::chrono::seconds(10)) const;
  child_process& process() { return *process_; }
  // Peak resident memory of the host so far (VmHWM), in KiB. Meaningless in
  // a sanitizer build (see memory_is_measurable).
  std::size_t peak_rss_kib() const;
  std::size_t rss_kib() const;
  // The host's own memory (heap, stacks): RSS without the pages of its code
  // and libraries, which grow as more code paths run once and are shared.
  std::size_t anonymous_rss_kib() const;

  // Copies build/lib/lib<name>.so into the plugins folder as `as` (default lib<name>.so).
  void install_plugin(const std::string& name, const std::string& as = {}) const;

 private:
  temp_dir dir_;
  std::string address_;
  std::vector<std::string> addresses_;
  std::unique_ptr<child_process> process_;
};

// False in an AddressSanitizer build, whose allocator quarantine keeps freed
// memory resident: tests of the host's RSS skip themselves there.
constexpr bool memory_is_measurable() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  return true;
#endif
}

// Params for SCRIPT_FILENAME `script` with a query string, as nginx would send.
protocol::name_value_list request_params(std::string script, std::string query = {}, std::string method = "GET");

// One whole request on a new connection (run inside run_async).
boost::asio::awaitable<client::response> fetch(std::string address, std::string script, std::string query = {},
                                               std::string body = {});

// fetch() again until `wanted` holds for the response or `limit` passes; the
// last response. For what the host sees only once its plugins folder watch
// has woken up (a replaced or removed plugin): well under a millisecond
// unless the machine is loaded.
boost::asio::awaitable<client::response> fetch_until(std::string address, std::string script, std::string query,
                                                     std::function<bool(const client::response&)> wanted,
                                                     std::chrono::milliseconds limit = std::chrono::seconds(5));

// `count` requests for `script` begun at once on one multiplexed connection
// (run inside run_async); their stdouts, in the order they were begun.
boost::asio::awaitable<std::vector<std::string>> fetch_at_once(std::string address, std::string script,
                                                               std::string query, std::size_t count);

// Reads an exchange to its END_REQUEST: its stdout, and its app status.
boost::asio::awaitable<std::string> read_to_end(client::exchange& request, std::uint32_t& app_status);

// Descriptors the process has open, and its children that are zombies.
std::size_t open_fd_count(pid_t pid);
// Waits (bounded) until the count is back at `baseline` or below: a leak
// stays, while the host's own short-lived descriptors (its sweep for stray
// children reads /proc) come and go. The count at the end.
std::size_t fds_settle_at(pid_t pid, std::size_t baseline, std::chrono::milliseconds limit = std::chrono::seconds(10));
std::size_t zombie_children(pid_t parent);
// Waits (bounded) until `parent` has no zombie child: a host reaps what it
// adopted as it dies (stray_children), a moment after the death.
bool no_zombie_children_within(pid_t parent, std::chrono::milliseconds limit);
// Children of `parent` not yet exited.
std::vector<pid_t> live_children(pid_t parent);
// True once `pid` has exited: gone from /proc, or a zombie (the children a
// script leaves are reparented to init, which reaps them in its own time).
bool process_gone(pid_t pid);
bool wait_until_gone(pid_t pid, std::chrono::milliseconds limit);

// Lines of the log that contain `text`.
std::size_t count_occurrences(const std::string& haystack, const std::string& needle);

}  // namespace fcgihost::test
