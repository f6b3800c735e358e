#include "child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fcgihost::test {

namespace fs = std::filesystem;

temp_dir::temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "fcgihost-test-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

child_process::child_process(std::vector<std::string> argv, fs::path stdout_path, fs::path stderr_path,
                             fs::path stdin_path, std::vector<std::string> extra_environment) {
  std::vector<char*> args;
  for (auto& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own group: the destructor kills everything it started
    // And if the test dies before its destructors run (a crash, terminate()),
    // the program goes with it instead of serving on from a deleted folder.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int in = ::open(stdin_path.c_str(), O_RDONLY);
    const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (auto& assignment : extra_environment) ::putenv(assignment.data());
    ::execv(args[0], args.data());
    const char* message = "exec failed\n";
    [[maybe_unused]] auto ignored = ::write(2, message, std::strlen(message));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from the parent, so the group exists before any kill
}

child_process::~child_process() { stop(); }

void child_process::signal(int number) const { ::kill(pid_, number); }

bool child_process::running() {
  if (reaped_) return false;
  const pid_t done = ::waitpid(pid_, &status_, WNOHANG);
  if (done == pid_) reaped_ = true;
  return !reaped_;
}

int child_process::wait(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("child did not exit in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

int child_process::stop() {
  if (pid_ <= 0) return 0;
  if (stopped_) return WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
  stopped_ = true;
  ::kill(-pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(-pid_, SIGKILL);  // the group: grandchildren (php-fpm workers) too
  if (!reaped_) {
    ::waitpid(pid_, &status_, 0);
    reaped_ = true;
  }
  return WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
}

namespace {

// Polls `try_connect` until it succeeds; false when `limit` passes or
// `server` exits first.
template <typename Address>
bool wait_until_connectable(int family, const Address& address, child_process& server,
                            std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!server.running()) return false;
    const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
    ::close(fd);
    if (connected) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

bool wait_for_unix_socket(const fs::path& socket_path, child_process& server, std::chrono::milliseconds limit) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  return wait_until_connectable(AF_UNIX, address, server, limit);
}

program_result run_program(std::vector<std::string> argv, const fs::path& stdin_path) {
  temp_dir output;
  program_result result;
  {
    child_process program(std::move(argv), output / "out", output / "err", stdin_path);
    result.exit_code = program.wait();
  }
  result.out = read_file(output / "out");
  result.err = read_file(output / "err");
  return result;
}

}  // namespace fcgihost::test
