// The processes of a process group, read from /proc: what a script started
// that still runs (for the slow-request log).
#pragma once

#include <string>

namespace fcgihost::runners {

// "pid name" of each process whose group is `leader`, comma-separated, or "none left".
std::string describe_process_group(int leader);

}  // namespace fcgihost::runners
