#include "worker_process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <system_error>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/common/exit_status.hpp>
#include <runners/script/cgi_environment.hpp>
#include <runners/function/handler_stack_dump.hpp>
#include <runners/common/stray_children.hpp>
#include <runners/worker/worker_protocol.hpp>

extern char** environ;

namespace fcgihost::runners {

namespace {

// Every worker alive, for stop_all.
struct census {
  std::mutex mutex;
  std::set<worker_process*> alive;
};

census& workers_alive() {
  static census instance;
  return instance;
}

}  // namespace


namespace asio = boost::asio;

namespace {

// Above the descriptors the child gets, so one dup2 never overwrites another's source.
constexpr int first_free_fd = 10;

[[noreturn]] void fail(const char* what, int error = errno) {
  throw std::system_error(error, std::generic_category(), std::string("starting a worker: ") + what);
}

// An owned descriptor, closed unless released.
struct owned_fd {
  int fd = -1;
  owned_fd() = default;
  explicit owned_fd(int value) : fd(value) {}
  owned_fd(const owned_fd&) = delete;
  owned_fd& operator=(const owned_fd&) = delete;
  owned_fd(owned_fd&& other) noexcept : fd(other.release()) {}
  owned_fd& operator=(owned_fd&&) = delete;
  ~owned_fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() { return std::exchange(fd, -1); }
};

owned_fd above_child_fds(int fd) {
  owned_fd original(fd);
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, first_free_fd);
  if (moved < 0) fail("fcntl");
  return owned_fd(moved);
}

// The plugin's settings in a memfd, read from the start by the worker.
owned_fd settings_memfd(const plugin_settings& settings) {
  std::string bytes;
  for (const auto& [name, value] : settings) protocol::append_name_value(bytes, name, value);
  const int created = ::memfd_create("fcgi-host-plugin-settings", MFD_CLOEXEC);
  if (created < 0) fail("memfd_create");
  owned_fd file = above_child_fds(created);
  for (std::size_t written = 0; written < bytes.size();) {
    const auto n = ::write(file.fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("writing the plugin's settings");
    written += static_cast<std::size_t>(n);
  }
  if (::lseek(file.fd, 0, SEEK_SET) != 0) fail("lseek");
  return file;
}

}  // namespace

worker_process::worker_process(const asio::any_io_executor& executor, const std::string& plugin,
                               const std::filesystem::path& plugin_copy,
                               const std::vector<std::string>& extra_arguments, const plugin_settings& settings)
    : socket_(executor), pidfd_(executor) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) fail("socketpair");
  owned_fd host_end(pair[0]);
  owned_fd worker_end = above_child_fds(pair[1]);
  int pipe_ends[2];
  if (::pipe2(pipe_ends, O_CLOEXEC) != 0) fail("pipe");
  owned_fd crash_read(pipe_ends[0]);
  owned_fd crash_write = above_child_fds(pipe_ends[1]);
  const int opened = ::open(plugin_copy.c_str(), O_RDONLY | O_CLOEXEC);
  if (opened < 0) fail("opening the plugin's copy");
  owned_fd plugin_file = above_child_fds(opened);
  owned_fd settings_file = settings_memfd(settings);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);  // what a plugin prints goes to the host's stderr
  posix_spawn_file_actions_adddup2(&actions, worker_end.fd, worker_protocol::socket_fd);
  posix_spawn_file_actions_adddup2(&actions, crash_write.fd, worker_protocol::crash_report_fd);
  posix_spawn_file_actions_adddup2(&actions, plugin_file.fd, worker_protocol::plugin_fd);
  posix_spawn_file_actions_adddup2(&actions, settings_file.fd, worker_protocol::settings_fd);
  posix_spawn_file_actions_addclosefrom_np(&actions, worker_protocol::settings_fd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attributes, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attributes, &signals);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> arguments{"fcgi-host", std::string(worker_protocol::flag), plugin};
  arguments.insert(arguments.end(), extra_arguments.begin(), extra_arguments.end());
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  // Never the request's variables (CGI mode) nor the host's hand-over ones.
  std::vector<std::string> environment = worker_environment(environ);
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  int spawned = 0;
  {
    const auto starting = stray_children::starting();
    spawned = ::posix_spawn(&pid_, "/proc/self/exe", &actions, &attributes, argv.data(), envp.data());
    if (spawned == 0) stray_children::own(pid_);
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) fail("posix_spawn", spawned);

  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd < 0) {
    const int error = errno;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    fail("pidfd_open", error);
  }
  pidfd_.assign(pidfd);
  socket_.assign(asio::local::stream_protocol(), host_end.release());
  crash_pipe_ = crash_read.release();
  ::fcntl(crash_pipe_, F_SETFL, O_NONBLOCK);
  auto& all = workers_alive();
  std::lock_guard lock(all.mutex);
  all.alive.insert(this);
}

std::vector<pid_t> worker_process::stop_all(std::chrono::milliseconds grace) {
  auto& all = workers_alive();
  std::lock_guard lock(all.mutex);
  for (auto* worker : all.alive) worker->ask_to_leave();
  const auto give_up = std::chrono::steady_clock::now() + grace;
  const auto all_exited = [&] {
    return std::all_of(all.alive.begin(), all.alive.end(), [](worker_process* worker) { return worker->exited(); });
  };
  while (!all_exited() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::vector<pid_t> killed;
  for (auto* worker : all.alive) {
    if (worker->exited()) continue;
    killed.push_back(worker->pid());
    worker->kill();
    int status = 0;
    while (::waitpid(worker->pid_, &status, 0) < 0 && errno == EINTR) {
    }
    worker->note_status(status);
  }
  return killed;
}

worker_process::~worker_process() {
  {
    auto& all = workers_alive();
    std::lock_guard lock(all.mutex);
    all.alive.erase(this);
  }
  if (!reaped_) {
    kill();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  boost::system::error_code ignored;
  socket_.close(ignored);
  pidfd_.close(ignored);
  if (crash_pipe_ >= 0) ::close(crash_pipe_);
}

void worker_process::kill() {
  if (reaped_) return;
  killed_ = true;
  ::kill(pid_, SIGKILL);
}

void worker_process::demote() {
  if (reaped_) return;
  // The scheduling policy is per thread: each of its threads, as they are now
  // (threads it starts later inherit it from theirs).
  const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
  DIR* folder = ::opendir(tasks.c_str());
  if (!folder) return;
  const sched_param idle{};
  while (const dirent* entry = ::readdir(folder)) {
    const int tid = std::atoi(entry->d_name);
    if (tid > 0) ::sched_setscheduler(tid, SCHED_IDLE, &idle);
  }
  ::closedir(folder);
}

void worker_process::note_status(int status) {
  reaped_ = true;
  stray_children::disown(pid_);
  // What its handlers forked and left in its group (a `sleep 600`) goes with
  // it; what left the group is the host's stray to end (stray_children).
  ::kill(-pid_, SIGKILL);
  if (WIFSIGNALED(status)) {
    died_of_signal_ = true;
    signal_ = WTERMSIG(status);
  }
  exit_description_ = describe_exit(status);
}

bool worker_process::killed_from_outside() const {
  if (!crashed()) return false;
  return std::find(fault_signals.begin(), fault_signals.end(), signal_) == fault_signals.end();
}

bool worker_process::exited() {
  if (reaped_) return true;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done != pid_) return false;
  note_status(status);
  return true;
}

asio::awaitable<void> worker_process::wait_for_exit(std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  if (exited()) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, limit);
  co_await (pidfd_.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable)) ||
            timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (exited()) co_return;
  kill();
  // Never a blocking waitpid here, on an I/O thread: a killed process on a
  // busy machine takes its time to die (its exit runs on its own CPU time).
  co_await pidfd_.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable));
  if (exited()) co_return;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  note_status(status);
}

void worker_process::read_crash_pipe() {
  if (crash_pipe_ < 0) return;
  char buffer[4096];
  // A pipe holds 64 KiB: enough for the frames and a worker's memory map.
  // What a worker (or a child it left holding the pipe) writes is untrusted:
  // at most max_crash_pipe_bytes are kept, the rest is read and dropped, and
  // a writer that never stops is read for one pipe's worth a call, no more.
  constexpr std::size_t max_crash_pipe_bytes = 256 * 1024;
  std::size_t this_call = 0;
  for (auto n = ::read(crash_pipe_, buffer, sizeof buffer); n > 0; n = ::read(crash_pipe_, buffer, sizeof buffer)) {
    const auto got = static_cast<std::size_t>(n);
    if (pipe_bytes_.size() + got <= max_crash_pipe_bytes) pipe_bytes_.append(buffer, got);
    this_call += got;
    if (this_call >= max_crash_pipe_bytes) break;
  }
}

void worker_process::ask_to_leave() {
  boost::system::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
}

std::string worker_process::take_crash_dump() {
  read_crash_pipe();
  // Stack replies that came after the slow log stopped waiting are no part of it.
  while (take_stack_reply(pipe_bytes_)) {
  }
  return std::exchange(pipe_bytes_, std::string());
}

void worker_process::request_handler_stack() {
  if (!reaped_) ::kill(pid_, handler_stack_signal);
}

std::optional<std::string> worker_process::take_handler_stack() {
  read_crash_pipe();
  return take_stack_reply(pipe_bytes_);
}

std::uint64_t worker_process::rss_bytes() const {
  if (reaped_) return 0;
  std::ifstream statm("/proc/" + std::to_string(pid_) + "/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace fcgihost::runners
