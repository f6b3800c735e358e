#include "script_process.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>

#include <runners/common/exception_text.hpp>
#include <runners/common/exit_status.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
using asio::awaitable;
using error_code = boost::system::error_code;

namespace {

constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// How often a running script's exit is checked besides its pidfd's wake-ups.
constexpr auto exit_poll_interval = std::chrono::milliseconds(100);

// What one read from the script's stdout or stderr takes at most; one such
// buffer per stream is all the memory a script's output uses in the host.
// It starts small (most scripts write a page) and stdout's grows once a read
// fills it: large reads (and its 1 MiB pipe) make streaming cheaper per
// byte: a 512 MiB echo through cat took 1.24 s with 64 KiB, 0.9 s with this.
constexpr std::size_t first_buffer_size = 16 * 1024;
constexpr std::size_t stdout_buffer_size = 256 * 1024;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

script_process::script_process(launched_script child, std::shared_ptr<request_io> io, options settings)
    : child_(std::move(child)),
      io_(std::move(io)),
      options_(std::move(settings)),
      exit_watch_(io_->executor(), child_.pidfd),
      grace_(io_->executor()),
      exit_poll_(io_->executor()),
      done_(io_->executor(), 1),
      deadline_after_answer_(io_->executor()) {
  child_.pidfd = -1;  // exit_watch_ owns it now
  io_->note_script(child_.pid);
  if (options_.counts) options_.counts->started.fetch_add(1, std::memory_order_relaxed);
}

template <typename Work>
void script_process::spawn(Work work, const char* what) {
  asio::co_spawn(io_->executor(), std::move(work), [self = shared_from_this(), what](std::exception_ptr failure) {
    if (failure)
      self->options_.log->error("script {} (pid {}): {} failed: {}", self->options_.name, self->child_.pid, what,
                                exception_text(failure));
  });
}

awaitable<run_result> script_process::run(std::stop_token stop) {
  auto self = shared_from_this();
  on_stop_.emplace(stop, [weak = weak_from_this(), executor = io_->executor()] {
    asio::post(executor, [weak] {
      // One that answered runs on to its exit or its deadline.
      if (auto process = weak.lock(); process && !process->answered_) process->begin_stop(stop_cause::request_over);
    });
  });
  spawn(feed_stdin(), "feeding stdin");
  spawn(relay(child_.stdout_pipe, output_stream::out), "relaying stdout");
  spawn(relay(child_.stderr_pipe, output_stream::err), "relaying stderr");
  spawn(watch_exit(), "watching for its exit");
  auto [ec, result] = co_await done_.async_receive(as_tuple_awaitable);
  if (ec) throw boost::system::system_error(ec);
  co_return result;
}

awaitable<void> script_process::feed_stdin() {
  while (child_.stdin_pipe.is_open()) {
    const std::string chunk = co_await io_->read_stdin();
    if (chunk.empty() || !child_.stdin_pipe.is_open()) break;
    auto [ec, written] = co_await asio::async_write(child_.stdin_pipe, asio::buffer(chunk), as_tuple_awaitable);
    if (ec) break;  // EPIPE: the script has closed its stdin and does not want the rest
  }
  error_code ignored;
  child_.stdin_pipe.close(ignored);  // the script sees the end of its input
}

awaitable<void> script_process::relay(asio::readable_pipe& pipe, output_stream stream) {
  // Not zeroed: a zeroed 256 KiB buffer per request was a visible cost of a hello script.
  std::size_t size = first_buffer_size;
  auto buffer = std::make_unique_for_overwrite<char[]>(size);
  while (true) {
    auto [ec, count] = co_await pipe.async_read_some(asio::buffer(buffer.get(), size), as_tuple_awaitable);
    if (ec) break;  // end of file (no writer left), or closed by escalate()
    if (stream == output_stream::out) stdout_bytes_ += count;
    if (answered_) {
      log_late_stderr(std::string_view(buffer.get(), count));
      continue;
    }
    if (!discarding_ && !co_await io_->write(stream, std::string_view(buffer.get(), count))) discarding_ = true;
    if (count == size && stream == output_stream::out && size < stdout_buffer_size) {
      size = stdout_buffer_size;
      buffer = std::make_unique_for_overwrite<char[]>(size);
    }
  }
  if (stream == output_stream::out) co_await stdout_ended();
  --open_outputs_;
  // Both outputs at their end usually means the script has exited: no need
  // to wait for the exit watch to notice.
  if (open_outputs_ == 0 && has_exited()) note_exit();
  finish_if_done();
}

awaitable<void> script_process::stdout_ended() {
  // Stopping, or gone: the usual end (finish_if_done) answers.
  if (stop_cause_ != stop_cause::none || exited_ || reaped_) co_return;
  // A script's stdout also ends as it exits, a moment before the exit shows:
  // give the exit that moment before taking the script as running on.
  constexpr auto exit_window = std::chrono::milliseconds(50);
  const auto give_up = std::chrono::steady_clock::now() + exit_window;
  asio::steady_timer pause(io_->executor());
  while (std::chrono::steady_clock::now() < give_up) {
    if (has_exited() || stop_cause_ != stop_cause::none) co_return;
    pause.expires_after(std::chrono::milliseconds(1));
    co_await pause.async_wait(as_tuple_awaitable);
  }
  if (has_exited() || stop_cause_ != stop_cause::none) co_return;
  answered_ = true;
  answered_at_ = std::chrono::steady_clock::now();
  kept_slot_ = io_->keep_slot();
  const auto deadline = io_->deadline();
  options_.log->info("script {} (pid {}) closed its stdout and runs on: its response is whole; it keeps its request's "
                     "slot until it exits{}", options_.name, child_.pid,
                     deadline == std::chrono::steady_clock::time_point::max() ? "" : " or its request's deadline");
  run_result answer;
  if (stdout_bytes_ == 0) answer.failure = "closed its stdout without writing a response";
  answer.runs_on = true;
  done_.try_send(error_code{}, std::move(answer));
  if (deadline == std::chrono::steady_clock::time_point::max()) co_return;
  deadline_after_answer_.expires_at(deadline);
  deadline_after_answer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec && !self->reaped_) self->begin_stop(stop_cause::deadline_after_answer);
  });
}

void script_process::log_late_stderr(std::string_view bytes) {
  constexpr std::size_t most_lines = 100;
  while (!bytes.empty() && late_stderr_lines_ <= most_lines) {
    const auto newline = bytes.find('\n');
    const auto line = bytes.substr(0, newline);
    bytes.remove_prefix(newline == std::string_view::npos ? bytes.size() : newline + 1);
    if (line.empty()) continue;
    if (++late_stderr_lines_ > most_lines) {
      options_.log->warn("script {} (pid {}): more stderr after its answer, not logged", options_.name, child_.pid);
      break;
    }
    options_.log->warn("script {} (pid {}) after its answer: stderr: {}", options_.name, child_.pid, line);
  }
}

bool script_process::has_exited() const {
  siginfo_t info{};
  // WNOWAIT: the script stays unreaped, its group id ours, until finish_if_done.
  return ::waitid(P_PID, static_cast<id_t>(child_.pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == child_.pid;
}

void script_process::note_exit() {
  if (exited_) return;
  exited_ = true;
  // Whatever the script left running in its group is stopped with it.
  if (stop_cause_ == stop_cause::none) begin_stop(stop_cause::script_exited);
}

awaitable<void> script_process::watch_exit() {
  using namespace asio::experimental::awaitable_operators;
  // The pidfd's readiness is only a hint: Asio's wait on it can wake without
  // an exit, and misses an exit that came before the wait was queued (its
  // epoll registration is edge-triggered). So the exit is always checked,
  // and checked again on a short poll.
  while (!exited_ && exit_watch_.is_open()) {
    if (has_exited()) {
      note_exit();
      break;
    }
    exit_poll_.expires_after(exit_poll_interval);
    co_await (exit_watch_.async_wait(asio::posix::descriptor_base::wait_read, as_tuple_awaitable) ||
              exit_poll_.async_wait(as_tuple_awaitable));
  }
  finish_if_done();
}

void script_process::begin_stop(stop_cause cause) {
  if (stop_cause_ != stop_cause::none || reaped_) return;
  stop_cause_ = cause;
  stop_began_ = std::chrono::steady_clock::now();
  if (cause == stop_cause::request_over) discarding_ = true;
  error_code ignored;
  child_.stdin_pipe.close(ignored);
  ::kill(-child_.pid, SIGTERM);
  grace_.expires_after(options_.kill_grace);
  grace_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->escalate();
  });
}

void script_process::escalate() {
  if (reaped_) return;  // begin_stop arms the grace timer once: this runs at most once
  ::kill(-child_.pid, SIGKILL);
  const double grace = std::chrono::duration<double>(options_.kill_grace).count();
  escalated_ = true;
  if (options_.counts) options_.counts->killed.fetch_add(1, std::memory_order_relaxed);
  if (!exited_)
    options_.log->warn("script {} (pid {}) ignored SIGTERM for {:g} s: SIGKILL to its process group", options_.name,
                       child_.pid, grace);
  else
    options_.log->warn("script {} (pid {}) exited, but what it left running in its process group outlived SIGTERM "
                       "by {:g} s: SIGKILL",
                       options_.name, child_.pid, grace);
  // A process outside the group may still hold the pipes: stop waiting for them.
  error_code ignored;
  child_.stdout_pipe.close(ignored);
  child_.stderr_pipe.close(ignored);
}

void script_process::finish_if_done() {
  if (reaped_ || !exited_ || open_outputs_ > 0) return;
  grace_.cancel();
  exit_poll_.cancel();
  // Processes of the group that let go of stdout and stderr go too. Until the
  // script is reaped below, the group's id cannot belong to anybody else.
  ::kill(-child_.pid, SIGKILL);
  int status = 0;
  while (::waitpid(child_.pid, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (options_.on_reaped) options_.on_reaped(child_.pid);
  error_code ignored;
  child_.stdin_pipe.close(ignored);
  exit_watch_.close(ignored);
  count_end(status);
  if (answered_) {
    deadline_after_answer_.cancel();
    kept_slot_.reset();
    const double after = seconds_since(answered_at_);
    if (stop_cause_ == stop_cause::deadline_after_answer)
      options_.log->warn("script {} (pid {}) ran on past its request's deadline, {:.3f} s after its answer: stopped "
                         "with its process group ({})", options_.name, child_.pid, after, describe_exit(status));
    else
      options_.log->info("script {} (pid {}) ended {:.3f} s after its answer: {}", options_.name, child_.pid, after,
                         describe_exit(status));
    return;
  }
  if (stop_cause_ == stop_cause::request_over) {
    options_.log->info("script {} (pid {}) stopped: {}, {:.3f} s after SIGTERM to its process group", options_.name,
                       child_.pid, describe_exit(status), seconds_since(stop_began_));
    return;
  }
  options_.log->debug("script {} (pid {}) {}", options_.name, child_.pid, describe_exit(status));
  done_.try_send(error_code{}, result_of(status));
}

void script_process::count_end(int wait_status) {
  if (!options_.counts) return;
  constexpr auto relaxed = std::memory_order_relaxed;
  if (stop_cause_ == stop_cause::request_over || stop_cause_ == stop_cause::deadline_after_answer) {
    if (!escalated_) options_.counts->stopped_by_term.fetch_add(1, relaxed);
  } else if (WIFEXITED(wait_status)) {
    options_.counts->exit_codes[static_cast<std::size_t>(WEXITSTATUS(wait_status)) & 0xFF].fetch_add(1, relaxed);
  } else if (WIFSIGNALED(wait_status)) {
    options_.counts->died_of_signal.fetch_add(1, relaxed);
  }
}

run_result script_process::result_of(int wait_status) const {
  run_result result;
  if (WIFSIGNALED(wait_status)) {
    const int signal = WTERMSIG(wait_status);
    result.app_status = 128 + signal;  // as a shell reports it
    result.failure = describe_exit(wait_status);
    return result;
  }
  result.app_status = WEXITSTATUS(wait_status);
  if (stdout_bytes_ == 0)
    result.failure = describe_exit(wait_status) + " without writing a response";
  return result;
}

}  // namespace fcgihost::runners
