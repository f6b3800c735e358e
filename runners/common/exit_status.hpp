// How a child process ended, in the one wording the log, responses and the
// status page use: "exited with status 3", "killed by SIGSEGV (Segmentation
// fault)".
#pragma once

#include <signal.h>

#include <array>
#include <string>

namespace fcgihost::runners {

// The signals of a process's own faults, which a crash dump is written for:
// a process killed by another signal was killed from outside.
inline constexpr std::array<int, 7> fault_signals{SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTRAP, SIGSYS};

// A wait status as waitpid gives it.
std::string describe_exit(int wait_status);

}  // namespace fcgihost::runners
