// One worker process as the host holds it: started with posix_spawn (never a
// fork of the threaded host) as `/proc/self/exe --worker PLUGIN`, in a process
// group of its own, with descriptors 0-2 and the three of worker_protocol
// only. The host keeps its end of the FastCGI socket, a pidfd that becomes
// readable when the worker exits, and the read end of its crash-report pipe.
// Destroying it kills the worker (SIGKILL) and reaps it.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <runners/function/plugin_settings.hpp>

namespace fcgihost::runners {

class worker_process {
 public:
  // Every worker process alive in this host, whatever holds it (an idle or
  // busy slot, a pool being retired, one still loading its plugin): for the
  // host's exit, when the I/O threads have stopped. Asks each to leave,
  // waits up to `grace` for them to exit (their plugins' shutdowns run),
  // then kills and reaps the rest. Returns the pids it had to kill.
  static std::vector<pid_t> stop_all(std::chrono::milliseconds grace);

  using socket_type = boost::asio::local::stream_protocol::socket;

  // Throws std::system_error when it cannot be started.
  worker_process(const boost::asio::any_io_executor& executor, const std::string& plugin,
                 const std::filesystem::path& plugin_copy, const std::vector<std::string>& extra_arguments,
                 const plugin_settings& settings);
  ~worker_process();
  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;

  pid_t pid() const { return pid_; }
  socket_type& socket() { return socket_; }

  void kill();
  // Closes the host's sending side: the worker finishes and exits on its own
  // (its plugin's shutdown runs). Synchronous: for the host's own exit.
  void ask_to_leave();
  // Every thread of it to SCHED_IDLE: it runs only on CPU time nothing else
  // wants (a worker past its request's deadline, during its kill grace).
  void demote();
  // Whether it has exited; reaps it then (non-blocking).
  bool exited();
  // Waits for it to exit, at most `limit`; kills it after that (and waits
  // for that, without blocking the thread). Reaped.
  boost::asio::awaitable<void> wait_for_exit(std::chrono::milliseconds limit);
  // "exited with status 3", "killed by SIGSEGV (Segmentation fault)"; empty while running.
  const std::string& exit_description() const { return exit_description_; }
  // Died of a signal the host did not send.
  bool crashed() const { return died_of_signal_ && !killed_; }
  // Died of a signal the host did not send that is not a fault of its own
  // (SIGKILL from the OOM killer or an operator, SIGTERM...), not SIGSEGV,
  // SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGSYS or SIGTRAP.
  bool killed_from_outside() const;
  // What it wrote to the crash-report pipe before dying (empty if nothing).
  std::string take_crash_dump();
  // Asks it for its handler thread's raw stack (see handler_stack_dump).
  void request_handler_stack();
  // The reply, once it has all come: "stack\nframe 0x...\nend\n".
  std::optional<std::string> take_handler_stack();
  int crash_pipe() const { return crash_pipe_; }
  // Resident memory now, from /proc (0 if gone).
  std::uint64_t rss_bytes() const;

 private:
  void note_status(int status);

  pid_t pid_ = -1;
  bool reaped_ = false;
  bool died_of_signal_ = false;
  int signal_ = 0;  // the one it died of
  bool killed_ = false;
  std::string exit_description_;
  socket_type socket_;
  boost::asio::posix::stream_descriptor pidfd_;
  int crash_pipe_ = -1;
  std::string pipe_bytes_;  // read from the crash pipe, not yet taken
  void read_crash_pipe();
};

}  // namespace fcgihost::runners
