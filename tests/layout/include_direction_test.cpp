// The source tree's direction, checked on every #include of the project's
// own headers: parts depend one way (protocol <- client, runners <- host;
// tools on client and protocol), and within runners and host a folder
// includes only its own folder and those below it. CMake already keeps a
// part from seeing the include roots of the parts above it (see
// cmake/FcgihostIncludeRoot.cmake); this test also catches quoted relative
// paths, and the order between the folders of one part, which share a root.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
const fs::path source_root = FCGIHOST_SOURCE_DIR;

// Bottom first: a folder may include its own folder and any listed before it
// (function and script are siblings: neither includes the other).
const std::map<std::string, int> folder_rank = {
    {"runners/common", 0},   {"runners/function", 1}, {"runners/script", 1}, {"runners/worker", 2},
    {"host/common", 0},      {"host/config", 1},      {"host/status", 2},    {"host/request", 3},
    {"host/transport", 4},   {"host/worker", 5},      {"host/ops", 6},       {"host/startup", 7},
};

// The parts each part may include (besides itself).
const std::map<std::string, std::set<std::string>> part_uses = {
    {"protocol", {}},
    {"plugins", {}},
    {"client", {"protocol"}},
    {"runners", {"protocol", "plugins"}},
    {"host", {"protocol", "plugins", "runners", "client"}},
    {"tools", {"protocol", "client"}},
};

struct include_edge {
  std::string from;  // the including file, relative to the source root
  std::string to;    // the included file, relative to the source root
  auto operator<=>(const include_edge&) const = default;
};

std::string part_of(const std::string& path) { return path.substr(0, path.find('/')); }

// "host/request/x.hpp" -> "host/request"; "" for a file outside the ranked folders.
std::string folder_of(const std::string& path) {
  const auto first = path.find('/');
  const auto second = path.find('/', first + 1);
  if (first == std::string::npos || second == std::string::npos) return "";
  std::string folder = path.substr(0, second);
  return folder_rank.contains(folder) ? folder : "";
}

// Where an include of the project lands, relative to the source root; "" for
// a header from outside (the standard library, Boost...).
std::string resolve(const fs::path& including, const std::string& name, bool quoted) {
  if (quoted) {
    const fs::path beside = including.parent_path() / name;
    if (fs::exists(beside)) return fs::relative(fs::weakly_canonical(beside), source_root).string();
  }
  for (const char* root : {"", "protocol/include/", "plugins/include/"}) {
    const fs::path candidate = source_root / (std::string(root) + name);
    if (fs::exists(candidate)) return fs::relative(candidate, source_root).string();
  }
  return "";
}

std::vector<include_edge> project_includes() {
  static const std::regex include_line(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::vector<include_edge> edges;
  for (const char* part : {"protocol", "plugins", "client", "runners", "host", "tools"}) {
    for (const auto& entry : fs::recursive_directory_iterator(source_root / part)) {
      const auto extension = entry.path().extension();
      if (extension != ".hpp" && extension != ".cpp" && extension != ".h" && extension != ".c") continue;
      std::ifstream in(entry.path());
      const std::string from = fs::relative(entry.path(), source_root).string();
      for (std::string line; std::getline(in, line);) {
        std::smatch match;
        if (!std::regex_search(line, match, include_line)) continue;
        const std::string to = resolve(entry.path(), match[2], match[1] == "\"");
        if (!to.empty()) edges.push_back({from, to});
      }
    }
  }
  return edges;
}

// Includes that still point upward, each to be removed by the change that
// splits what it joins; the test fails when one is gone, so the list only
// shrinks.
const std::set<include_edge> known_upward = {
};

TEST(IncludeDirection, PartsDependOneWayAndFoldersOnlyDownward) {
  const auto edges = project_includes();
  ASSERT_GT(edges.size(), 100u) << "the scan found too few includes: is FCGIHOST_SOURCE_DIR right?";
  std::set<include_edge> upward;
  for (const auto& edge : edges) {
    const std::string from_part = part_of(edge.from), to_part = part_of(edge.to);
    if (from_part != to_part) {
      const auto& allowed = part_uses.at(from_part);
      EXPECT_TRUE(allowed.contains(to_part)) << edge.from << " includes " << edge.to << ": " << from_part
                                             << " must not depend on " << to_part;
      continue;
    }
    const std::string from_folder = folder_of(edge.from), to_folder = folder_of(edge.to);
    if (from_folder.empty() || to_folder.empty() || from_folder == to_folder) continue;
    if (folder_rank.at(to_folder) >= folder_rank.at(from_folder)) upward.insert(edge);
  }
  for (const auto& edge : upward)
    EXPECT_TRUE(known_upward.contains(edge)) << edge.from << " includes " << edge.to << ", a folder not below its own";
  for (const auto& edge : known_upward)
    EXPECT_TRUE(upward.contains(edge)) << edge.from << " no longer includes " << edge.to
                                       << " upward: take it off known_upward";
}

TEST(IncludeDirection, EveryFolderOfAPartIsRanked) {
  for (const char* part : {"runners", "host"}) {
    for (const auto& entry : fs::directory_iterator(source_root / part)) {
      if (!entry.is_directory()) continue;
      const std::string folder = fs::relative(entry.path(), source_root).string();
      EXPECT_TRUE(folder_rank.contains(folder)) << folder << " has no place in folder_rank";
    }
  }
}

}  // namespace
