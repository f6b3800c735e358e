#include "in_place_upgrade.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <runners/common/exit_status.hpp>
#include <runners/common/signal_safe_text.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr const char* ready_fd_variable = "FCGIHOST_UPGRADE_READY_FD";
constexpr std::string_view serving_word = "serving\n";
// What the child writes on the pipe when the exec itself fails, with errno.
constexpr const char* exec_failed_word = "exec failed";

// The binary at this process's own path: after a new build was moved over
// it, /proc/self/exe names the old one's path with " (deleted)" added.
std::filesystem::path own_executable() {
  std::error_code ec;
  std::string path = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return {};
  constexpr std::string_view deleted = " (deleted)";
  if (path.ends_with(deleted)) path.resize(path.size() - deleted.size());
  return path;
}

bool starts_with_name(const char* entry, std::string_view name) {
  return std::string_view(entry).starts_with(name) && entry[name.size()] == '=';
}

// This process's environment for the new one: without what was meant for
// this process alone (systemd's LISTEN_* and WATCHDOG_PID, which would name
// the wrong pid), with the sockets and the pipe.
std::vector<std::string> environment_for_new_process(const std::vector<listener>& listeners, int ready_fd) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry; ++entry) {
    bool drop = false;
    for (std::string_view name : {std::string_view("LISTEN_PID"), std::string_view("LISTEN_FDS"),
                                  std::string_view("LISTEN_FDNAMES"), std::string_view("WATCHDOG_PID"),
                                  std::string_view(inherited_listeners_variable), std::string_view(ready_fd_variable)})
      drop = drop || starts_with_name(*entry, name);
    if (!drop) environment.emplace_back(*entry);
  }
  environment.push_back(std::string(inherited_listeners_variable) + "=" + inherited_listeners_text(listeners));
  environment.push_back(std::string(ready_fd_variable) + "=" + std::to_string(ready_fd));
  return environment;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (auto& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

// Reaps the new process, killed first (harmless to one that has ended);
// says how it ended.
std::string reap(pid_t child) {
  int status = 0;
  ::kill(child, SIGKILL);
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return runners::describe_exit(status);
}

// The new process closed its end of the pipe without serving: it is most
// likely exiting. Waits a second at most for it to end, on its pidfd (the
// thread serves other work meanwhile), then reaps it.
awaitable<std::string> reap_once_ended(pid_t child) {
  if (const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0)); pidfd >= 0) {
    using namespace asio::experimental::awaitable_operators;
    const auto executor = co_await asio::this_coro::executor;
    asio::posix::stream_descriptor exit_watch(executor, pidfd);
    asio::steady_timer limit(executor, std::chrono::seconds(1));
    co_await (exit_watch.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(use_awaitable)) ||
              limit.async_wait(asio::as_tuple(use_awaitable)));
  }
  co_return reap(child);
}

}  // namespace

// What the coroutine waiting for the new process shares with its owner.
struct in_place_upgrade::waiting {
  explicit waiting(asio::any_io_executor executor) : pipe(executor), limit(executor) {}
  asio::posix::stream_descriptor pipe;
  asio::steady_timer limit;
  bool cancelled = false;
};

in_place_upgrade::in_place_upgrade(asio::any_io_executor executor, std::shared_ptr<spdlog::logger> log,
                                   std::vector<std::string> command_line)
    : executor_(std::move(executor)), log_(std::move(log)), command_line_(std::move(command_line)),
      executable_(own_executable()) {}

in_place_upgrade::~in_place_upgrade() { cancel(); }

void in_place_upgrade::start(const std::vector<listener>& listeners, std::function<void(pid_t)> serving,
                             std::function<void(const std::string&)> failed) {
  if (executable_.empty()) return failed("cannot tell this process's own binary (/proc/self/exe)");
  std::array<int, 2> ready{};
  if (::pipe2(ready.data(), O_CLOEXEC) != 0) return failed(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> arguments = command_line_;
  arguments.at(0) = executable_.string();
  auto argv = pointers_to(arguments);
  auto environment = environment_for_new_process(listeners, ready[1]);
  auto envp = pointers_to(environment);
  std::vector<int> handed_over;
  for (const auto& l : listeners) handed_over.push_back(l.fd);
  handed_over.push_back(ready[1]);
  // For a kernel without CLOSE_RANGE_CLOEXEC: every descriptor the process may have.
  const int most_descriptors = static_cast<int>(std::min<long>(::sysconf(_SC_OPEN_MAX), 1L << 20));

  const pid_t child = ::fork();
  if (child == 0) {
    // Only async-signal-safe calls from here to exec: another thread may
    // have held the allocator's lock at the fork.
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Nothing but the sockets and the pipe goes across: Asio accepts
    // connections without FD_CLOEXEC, and each one the new process kept
    // would stay open there, unread, for as long as it runs.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
      for (int fd = 3; fd < most_descriptors; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (const int fd : handed_over) ::fcntl(fd, F_SETFD, 0);
    ::execve(argv[0], argv.data(), envp.data());
    // Tells the old process why, as "exec failed 0xERRNO": async-signal-safe text.
    char note[32];
    const std::size_t length = runners::format_hex_line(note, exec_failed_word, static_cast<std::uintptr_t>(errno));
    [[maybe_unused]] const auto written = ::write(ready[1], note, length);
    ::_exit(127);
  }
  ::close(ready[1]);
  if (child < 0) {
    ::close(ready[0]);
    return failed(std::string("fork: ") + std::strerror(errno));
  }
  child_ = child;
  log_->info("SIGUSR2: started {} as process {} on this process's sockets; waiting up to {} s for it to serve",
             executable_.string(), child, start_limit.count());

  auto state = std::make_shared<waiting>(executor_);
  state->pipe.assign(ready[0]);
  waiting_ = state;
  asio::co_spawn(
      executor_,
      [this, state, child, serving = std::move(serving), failed = std::move(failed)]() -> awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        std::string said;
        std::array<char, 64> buffer{};
        state->limit.expires_after(start_limit);
        bool timed_out = false;
        // Until it says "serving", closes the pipe (it exited, or exec'd
        // something that knows nothing of it and then ended), or the limit.
        while (said.size() < serving_word.size()) {
          auto outcome = co_await (state->pipe.async_read_some(asio::buffer(buffer), asio::as_tuple(use_awaitable)) ||
                                   state->limit.async_wait(asio::as_tuple(use_awaitable)));
          if (state->cancelled) co_return;
          if (outcome.index() == 1) {
            timed_out = true;
            break;
          }
          const auto [ec, n] = std::get<0>(outcome);
          if (ec) break;
          said.append(buffer.data(), n);
        }
        waiting_.reset();
        child_ = 0;
        if (said.starts_with(serving_word)) {
          serving(child);
          co_return;
        }
        std::string ended;
        if (timed_out)
          ended = reap(child);
        else
          ended = co_await reap_once_ended(child);
        std::string why;
        if (said.starts_with(exec_failed_word)) {
          const long error = std::strtol(said.c_str() + std::strlen(exec_failed_word), nullptr, 16);
          why = ": could not run " + executable_.string() + ": " + std::strerror(static_cast<int>(error));
        }
        failed(timed_out ? "process " + std::to_string(child) + " was not serving after " +
                               std::to_string(start_limit.count()) + " s, so it was killed"
                         : "process " + std::to_string(child) + " " + ended + " before it served" + why);
      },
      [log = log_](std::exception_ptr failure) {
        if (failure) log->error("SIGUSR2: waiting for the new process failed");
      });
}

void in_place_upgrade::cancel() {
  if (child_ == 0) return;
  if (waiting_) {
    waiting_->cancelled = true;
    boost::system::error_code ignored;
    waiting_->pipe.close(ignored);
    waiting_->limit.cancel();
    waiting_.reset();
  }
  log_->warn("SIGUSR2: the new process {} {} (this one is stopping)", child_, reap(child_));
  child_ = 0;
}

previous_process_link previous_process_link::from_environment() {
  previous_process_link link;
  const char* text = std::getenv(ready_fd_variable);
  if (!text) return link;
  link.fd_ = std::atoi(text);
  ::unsetenv(ready_fd_variable);
  if (link.fd_ < 3 || ::fcntl(link.fd_, F_SETFD, FD_CLOEXEC) != 0) link.fd_ = -1;  // never a script's
  return link;
}

void previous_process_link::serving() {
  if (fd_ < 0) return;
  [[maybe_unused]] const auto written = ::write(fd_, serving_word.data(), serving_word.size());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace fcgihost::host
