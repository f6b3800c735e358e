// CGI mode, run the way a CGI server runs a program, with the peers a web
// server can be: the request in the environment, the body on stdin (a pipe
// or a spooled file, shorter or longer than CONTENT_LENGTH), and a stdout the
// server reads, stops reading, or holds open and never reads. Each run must
// answer as FastCGI mode would and end, leaving no process behind.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "../support/host_process.hpp"

namespace fcgihost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A pipe's two ends, closed when dropped.
struct pipe_ends {
  int read = -1;
  int write = -1;
  pipe_ends() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    read = ends[0];
    write = ends[1];
  }
  ~pipe_ends() {
    close_read();
    close_write();
  }
  void close_read() { close_one(read); }
  void close_write() { close_one(write); }

 private:
  static void close_one(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// fcgi-host started as a CGI server starts a program: a CGI environment,
// stdin and stdout as the test gives them, stderr to a file. Orphans (plugin
// workers) come to this test, which reaps them.
class CgiRun : public ::testing::Test {
 protected:
  void SetUp() override { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  void TearDown() override {
    process_.reset();
    for (const pid_t left : live_children(::getpid())) ::kill(left, SIGKILL);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  static fs::path path_of(int fd) { return "/dev/fd/" + std::to_string(fd); }

  void start(const std::string& script_filename, std::vector<std::string> variables, const fs::path& stdin_path,
             int stdout_fd, std::vector<std::string> arguments = {}) {
    std::vector<std::string> argv{FCGIHOST_HOST_BIN, "--plugins", FCGIHOST_PLUGIN_BUILD_DIR};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    variables.insert(variables.end(), {"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1",
                                       "SCRIPT_FILENAME=" + script_filename});
    exit_code_.reset();
    process_.emplace(std::move(argv), path_of(stdout_fd), dir_ / "stderr", stdin_path, std::move(variables));
    started_at_ = std::chrono::steady_clock::now();
  }

  // Its exit code once it has exited within `limit`, reaped; nothing if it
  // is still running then.
  std::optional<int> exit_code(std::chrono::milliseconds limit = 10s) {
    if (exit_code_) return exit_code_;
    try {
      exit_code_ = process_->wait(limit);
    } catch (const std::runtime_error&) {
      return std::nullopt;
    }
    ran_for_ = std::chrono::steady_clock::now() - started_at_;
    return exit_code_;
  }

  // Everything on `fd` until its end.
  static std::string read_all(int fd) {
    std::string all;
    char buffer[65536];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      all.append(buffer, static_cast<std::size_t>(n));
    }
    return all;
  }

  // Runs SCRIPT_FILENAME with stdin from /dev/null and returns its stdout.
  std::string answer_of(const std::string& script_filename, std::vector<std::string> variables = {},
                        std::vector<std::string> arguments = {}) {
    pipe_ends out;
    start(script_filename, std::move(variables), "/dev/null", out.write, std::move(arguments));
    out.close_write();
    return read_all(out.read);
  }

  // echo.body of `size` bytes spooled to a file, as a server that buffers
  // uploads gives it, with --timeout `timeout`; its answer goes to `stdout_fd`.
  void echo_spooled_body(std::size_t size, int stdout_fd, const std::string& timeout) {
    write_file(dir_ / "body", std::string(size, 'x'));
    start("echo.body", {"REQUEST_METHOD=POST", "CONTENT_LENGTH=" + std::to_string(size)}, dir_ / "body", stdout_fd,
          {"--timeout", timeout});
  }

  std::string stderr_text() const { return read_file(dir_ / "stderr"); }
  // What the host started and left behind: none of its workers may outlive it.
  void expect_nothing_left() {
    EXPECT_TRUE(live_children(::getpid()).empty()) << "processes left after fcgi-host exited";
  }

  temp_dir dir_;
  std::optional<child_process> process_;
  std::optional<int> exit_code_;
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::duration ran_for_{};
};

TEST_F(CgiRun, AnswersTheRequestInItsEnvironmentAndExits) {
  const std::string answer = answer_of("hello.greet", {"QUERY_STRING=cgi", "REQUEST_METHOD=GET"});
  EXPECT_NE(answer.find("\r\n\r\nHello, cgi!\n"), std::string::npos) << answer;
  EXPECT_EQ(exit_code(), 0) << stderr_text();
  expect_nothing_left();
}

TEST_F(CgiRun, AnswersAsFastCgiModeDoesForErrorsAndTimeouts) {
  EXPECT_EQ(answer_of("nosuch.handler").rfind("Status: 404", 0), 0u);
  EXPECT_EQ(exit_code(), 0);
  EXPECT_EQ(answer_of("thrower.fail").rfind("Status: 500", 0), 0u);
  EXPECT_EQ(exit_code(), 0);
  EXPECT_EQ(answer_of("slow.polite", {"QUERY_STRING=30"}, {"--timeout", "1"}).rfind("Status: 408", 0), 0u);
  EXPECT_EQ(exit_code(), 0) << stderr_text();
  EXPECT_LT(ran_for_, 5s);
  expect_nothing_left();
}

// CONTENT_LENGTH says how much of stdin is the body: what comes after it is
// not read, and a stdin that ends first ends the body there.
TEST_F(CgiRun, ContentLengthBoundsTheBodyAndAShortStdinEndsIt) {
  for (const auto& [sent, length, expected] : {std::tuple{"abcdef", "3", "abc"}, std::tuple{"ab", "100", "ab"}}) {
    pipe_ends in, out;
    ASSERT_EQ(::write(in.write, sent, std::strlen(sent)), static_cast<ssize_t>(std::strlen(sent)));
    in.close_write();
    start("echo.body", {"REQUEST_METHOD=POST", std::string("CONTENT_LENGTH=") + length}, path_of(in.read), out.write);
    out.close_write();
    const std::string answer = read_all(out.read);
    EXPECT_EQ(answer.substr(answer.find("\r\n\r\n") + 4), expected) << answer;
    EXPECT_EQ(exit_code(), 0) << stderr_text();
  }
  expect_nothing_left();
}

// A web server whose client left closes the program's stdout: the request is
// aborted at once rather than run to its deadline.
TEST_F(CgiRun, AStdoutClosedMidAnswerEndsTheRunAtOnce) {
  pipe_ends out;
  echo_spooled_body(50 << 20, out.write, "30");
  out.close_write();
  char first[100];
  ASSERT_GT(::read(out.read, first, sizeof first), 0);
  out.close_read();
  EXPECT_EQ(exit_code(5s), 0) << stderr_text();
  expect_nothing_left();
}

// A web server that holds stdout open and never reads it: the request times
// out in the host, and the process must not wait on stdout for ever.
TEST_F(CgiRun, AStdoutNeverReadDoesNotKeepTheProcessAlive) {
  pipe_ends out;
  echo_spooled_body(4 << 20, out.write, "1");
  out.close_write();
  const auto code = exit_code(10s);
  ASSERT_TRUE(code.has_value()) << "still running 10 s into a 1 s timeout; stderr:\n" << stderr_text();
  EXPECT_EQ(*code, 1);
  EXPECT_NE(stderr_text().find("stdout took nothing for 1 s"), std::string::npos) << stderr_text();
  expect_nothing_left();
}

}  // namespace
}  // namespace fcgihost::test
