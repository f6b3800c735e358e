// A program the test starts (php-fpm, a libfcgi responder, fcgi-client): in
// its own process group, output captured to files, killed and reaped when the
// test ends whatever happened.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace fcgihost::test {

class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

class child_process {
 public:
  // Starts argv[0] (a path) with its output going to stdout_path / stderr_path
  // and stdin from stdin_path (or /dev/null).
  child_process(std::vector<std::string> argv, std::filesystem::path stdout_path,
                std::filesystem::path stderr_path, std::filesystem::path stdin_path = "/dev/null",
                std::vector<std::string> extra_environment = {});  // NAME=VALUE each
  ~child_process();  // SIGTERM to the group, SIGKILL after a grace, always reaped
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  // Sends a signal to the process alone (not its group).
  void signal(int number) const;
  bool running();
  // Waits for exit (bounded); returns the exit code, or 128+signal.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(30));
  // What the destructor does, now: SIGTERM to the group, SIGKILL after a
  // grace, reaped. Returns the signal that ended the process (0: it exited).
  int stop();

  pid_t pid_ = -1;
  bool reaped_ = false;
  bool stopped_ = false;
  int status_ = 0;
};

// Polls until a unix socket accepts a connection; false when the deadline
// passes or `server` exits first (its stderr then says why).
bool wait_for_unix_socket(const std::filesystem::path& socket, child_process& server,
                          std::chrono::milliseconds limit = std::chrono::seconds(15));

// Runs a program to the end and returns what it wrote.
struct program_result {
  int exit_code = -1;
  std::string out;
  std::string err;
};
program_result run_program(std::vector<std::string> argv, const std::filesystem::path& stdin_path = "/dev/null");

}  // namespace fcgihost::test
