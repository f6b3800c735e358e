#include "exit_status.hpp"

#include <string.h>
#include <sys/wait.h>

namespace fcgihost::runners {

namespace {

// "SIGKILL", or "signal 70" for one without a name.
std::string signal_name(int signal) {
  const char* abbreviation = ::sigabbrev_np(signal);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signal);
}

}  // namespace

std::string describe_exit(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int signal = WTERMSIG(wait_status);
    std::string text = "killed by " + signal_name(signal);
    if (const char* description = ::sigdescr_np(signal)) text += " (" + std::string(description) + ")";
    return text;
  }
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  return "ended";
}

}  // namespace fcgihost::runners
