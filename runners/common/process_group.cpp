#include "process_group.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fcgihost::runners {

// The processes of a script's process group ("pid name" each), from /proc:
// what it started that still runs.
std::string describe_process_group(int leader) {
  std::string members;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat_file(entry.path() / "stat");
    std::string stat;
    if (!std::getline(stat_file, stat)) continue;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    int parent = 0, group = 0;
    if (!(rest >> state >> parent >> group) || group != leader) continue;
    members += (members.empty() ? "" : ", ") + name + " " + stat.substr(open + 1, close - open - 1);
  }
  return members.empty() ? "none left" : members;
}

}  // namespace fcgihost::runners
