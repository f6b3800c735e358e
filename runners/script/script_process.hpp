// One running script, from launch to reaping. Its stdin, stdout and stderr
// move concurrently, each through one bounded buffer, so a script that
// writes before it reads cannot deadlock and no body sits in memory.
//
// Stopping is always the same sequence, whoever starts it (the request's
// stop token on a timeout, an abort or a lost connection; or the script's
// own exit, for what it left running): SIGTERM to the process group, SIGKILL
// after the grace period, then the script is reaped. The script stays
// unreaped until the group has had its SIGKILL, so its id cannot be taken by
// another process while the group is being signalled.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/logger.h>

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <runners/common/request_io.hpp>
#include <runners/script/script_launch.hpp>

namespace fcgihost::runners {

// What scripts did, over all of them (for the status page).
struct script_counters {
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint64_t> stopped_by_term{0};  // its request was over: SIGTERM was enough
  std::atomic<std::uint64_t> killed{0};           // its group outlived SIGTERM by the kill grace: SIGKILL
  std::array<std::atomic<std::uint64_t>, 256> exit_codes{};  // ran to their end: by exit status
  std::atomic<std::uint64_t> died_of_signal{0};   // ran to their end killed by a signal the host did not send
};

class script_process final : public std::enable_shared_from_this<script_process> {
 public:
  struct options {
    std::string name;  // for the log
    std::chrono::milliseconds kill_grace;
    std::shared_ptr<spdlog::logger> log;
    std::function<void(pid_t)> on_reaped;
    script_counters* counts = nullptr;  // the runner's, for the status page
  };

  // Held by its own coroutines until the script is reaped. Destroyed before
  // that only when the host stops, whose script_runner::kill_all reaps it.
  script_process(launched_script child, std::shared_ptr<request_io> io, options settings);

  // Completes when the script has exited and its output has been read, with
  // its exit status. Cancelled (the request is over), it returns at once and
  // the stop token's SIGTERM/SIGKILL sequence goes on without it.
  boost::asio::awaitable<run_result> run(std::stop_token stop);

 private:
  // request_over: its request ended first (timeout, abort); script_exited:
  // what it left in its group goes with it; deadline_after_answer: it
  // answered, ran on, and met its request's deadline.
  enum class stop_cause { none, request_over, script_exited, deadline_after_answer };

  boost::asio::awaitable<void> feed_stdin();
  boost::asio::awaitable<void> relay(boost::asio::readable_pipe& pipe, output_stream stream);
  boost::asio::awaitable<void> watch_exit();
  // stdout has ended: once the script has exited, as usual; if it runs on
  // (a CGI idiom: answer, close stdout, go on working), its response is
  // whole now. It keeps its request's slot until it ends, and is stopped at
  // the request's deadline.
  boost::asio::awaitable<void> stdout_ended();
  void log_late_stderr(std::string_view bytes);
  bool has_exited() const;
  void note_exit();
  void begin_stop(stop_cause cause);
  void escalate();
  void finish_if_done();
  void count_end(int wait_status);  // into options_.counts
  run_result result_of(int wait_status) const;
  template <typename Work>
  void spawn(Work work, const char* what);

  launched_script child_;
  std::shared_ptr<request_io> io_;
  options options_;
  boost::asio::posix::stream_descriptor exit_watch_;
  boost::asio::steady_timer grace_;
  boost::asio::steady_timer exit_poll_;
  boost::asio::experimental::channel<void(boost::system::error_code, run_result)> done_;
  std::optional<std::stop_callback<std::function<void()>>> on_stop_;
  stop_cause stop_cause_ = stop_cause::none;
  std::chrono::steady_clock::time_point stop_began_;
  int open_outputs_ = 2;
  bool exited_ = false;
  bool reaped_ = false;
  bool escalated_ = false;  // SIGKILL went to its group after the grace
  bool discarding_ = false;  // the request is over: output is read and dropped
  bool answered_ = false;    // stdout ended while it ran on (see stdout_ended)
  std::chrono::steady_clock::time_point answered_at_;
  std::shared_ptr<void> kept_slot_;  // its request's slot, while it runs on
  boost::asio::steady_timer deadline_after_answer_;
  std::size_t late_stderr_lines_ = 0;
  std::uint64_t stdout_bytes_ = 0;
};

}  // namespace fcgihost::runners
