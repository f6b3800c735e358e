#include "script_launch.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/posix/vfork_launcher.hpp>
#include <boost/process/v2/stdio.hpp>

#include <cerrno>
#include <system_error>

#include <runners/common/stray_children.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
namespace bp = boost::process::v2;
using error_code = boost::system::error_code;

namespace {

constexpr int pipe_capacity = 1024 * 1024;

error_code last_error() { return error_code(errno, boost::system::system_category()); }

// `extra_hard`: how far the hard limit lies past the soft one. For CPU time a
// second, so the script meets SIGXCPU (which says why) before SIGKILL.
bool set_limit(int resource, std::uint64_t value, std::uint64_t extra_hard = 0) {
  if (value == 0) return true;
  const rlimit limit{static_cast<rlim_t>(value), static_cast<rlim_t>(value + extra_hard)};
  return ::setrlimit(resource, &limit) == 0;
}

// The launcher's hooks for one script. on_exec_setup runs in the vfork
// child, which shares the host's memory: it makes system calls only.
class child_setup {
 public:
  explicit child_setup(const launch_request& request) : request_(request) {
    environment_.reserve(request.environment.size() + 1);
    for (const auto& entry : request.environment) environment_.push_back(entry.c_str());
    environment_.push_back(nullptr);
  }

  // In the host, before vfork. Blocking every signal keeps the host's
  // handlers from running in the child before it has reset them.
  error_code on_setup(bp::posix::default_launcher& launcher, const boost::filesystem::path&, const char* const*) {
    launcher.env = environment_.data();
    sigset_t all;
    ::sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &host_mask_);
    mask_saved_ = true;
    return {};
  }
  void on_success(bp::posix::default_launcher&, const boost::filesystem::path&, const char* const*) {
    restore_mask();
  }
  void on_error(bp::posix::default_launcher&, const boost::filesystem::path&, const char* const*, const error_code&) {
    restore_mask();
  }

  error_code on_exec_setup(bp::posix::default_launcher&, const boost::filesystem::path&, const char* const*) {
    if (::setpgid(0, 0) != 0) return last_error();
    if (::chdir(request_.working_directory.c_str()) != 0) return last_error();
    const auto& limits = request_.limits;
    if (!set_limit(RLIMIT_CPU, limits.cpu_seconds, 1) || !set_limit(RLIMIT_AS, limits.memory_bytes) ||
        !set_limit(RLIMIT_NOFILE, limits.open_files) || !set_limit(RLIMIT_NPROC, limits.processes))
      return last_error();
    if (request_.identity && !drop_privileges_of_this_thread(*request_.identity)) return last_error();
    // setuid and setgid bits and file capabilities no longer raise what the
    // script (or anything it runs) may do.
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return last_error();
    // exec keeps ignored signals ignored (the host ignores SIGPIPE): a script
    // starts with every signal at its default, and none blocked.
    struct sigaction by_default {};
    by_default.sa_handler = SIG_DFL;
    for (int signal = 1; signal < NSIG; ++signal) {
      if (signal == SIGKILL || signal == SIGSTOP) continue;
      struct sigaction current {};
      if (::sigaction(signal, nullptr, &current) == 0 && current.sa_handler != SIG_DFL)
        ::sigaction(signal, &by_default, nullptr);
    }
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    return {};
  }
  // exec failed: the launcher has stored errno where the host reads it. Leave
  // with _exit, which, unlike the launcher's exit(), runs none of the host's
  // atexit handlers in its shared memory.
  void on_exec_error(bp::posix::default_launcher&, const boost::filesystem::path&, const char* const*,
                     const error_code&) {
    ::_exit(127);
  }

  // Boost 1.81 detects on_error and on_exec_error through a five-argument
  // signature but calls the four-argument one: these declarations are only
  // there to be detected.
  void on_error(bp::posix::default_launcher&, const error_code&, const boost::filesystem::path&, const char* const*,
                const error_code&);
  void on_exec_error(bp::posix::default_launcher&, const error_code&, const boost::filesystem::path&,
                     const char* const*, const error_code&);

 private:
  void restore_mask() {
    if (mask_saved_) ::pthread_sigmask(SIG_SETMASK, &host_mask_, nullptr);
    mask_saved_ = false;
  }

  const launch_request& request_;
  std::vector<const char*> environment_;
  sigset_t host_mask_{};
  bool mask_saved_ = false;
};

}  // namespace

launched_script launch_script(const asio::any_io_executor& executor, const launch_request& request) {
  launched_script child{.stdin_pipe = asio::writable_pipe(executor),
                        .stdout_pipe = asio::readable_pipe(executor),
                        .stderr_pipe = asio::readable_pipe(executor)};
  // The launcher tells the process's io_context about the fork, and in a
  // vfork child that would rewrite the host's reactor in shared memory; so
  // it gets a context of its own, used for nothing else.
  asio::io_context launch_context;
  bp::posix::vfork_launcher launcher;
  error_code ec;
  child_setup setup(request);
  const std::vector<std::string> no_arguments;
  // Owned before any sweep can see it (stray_children).
  const auto starting = stray_children::starting();
  // process_stdio made inline: it closes the child's pipe ends when the call ends.
  auto process = launcher(launch_context.get_executor(), ec, boost::filesystem::path(request.executable.native()),
                          no_arguments,
                          bp::process_stdio{child.stdin_pipe, child.stdout_pipe, child.stderr_pipe}, setup);
  if (ec) {
    if (launcher.pid > 0) ::waitpid(launcher.pid, nullptr, 0);  // it has already exited
    throw std::system_error(ec.value(), std::system_category(), "cannot run " + request.executable.string());
  }
  // Larger pipes: fewer wake-ups per MiB when a script streams (the
  // kernel's default is 64 KiB; an unprivileged process may go to 1 MiB).
  for (const int fd : {child.stdin_pipe.native_handle(), child.stdout_pipe.native_handle()})
    ::fcntl(fd, F_SETPIPE_SZ, pipe_capacity);
  child.pid = process.id();
  stray_children::own(child.pid);  // disowned by script_runner once reaped
  process.detach();  // the caller waits for it, through the pidfd below
  child.pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child.pid, 0));
  if (child.pidfd < 0) {
    const int error = errno;
    ::kill(-child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    stray_children::disown(child.pid);
    throw std::system_error(error, std::system_category(), "cannot watch " + request.executable.string());
  }
  return child;
}

}  // namespace fcgihost::runners
