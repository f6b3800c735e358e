// The plugins folder's change count, which spares every lookup a stat: each
// way a plugin file can change moves it, and a folder that goes away ends
// the watch (lookups then look at the disk every time).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <runners/function/folder_changes.hpp>

namespace fcgihost::runners {
namespace {

namespace fs = std::filesystem;

class scratch_folder {
 public:
  scratch_folder() {
    std::string pattern = (fs::temp_directory_path() / "folder-changes-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~scratch_folder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write(const fs::path& file, const std::string& bytes) { std::ofstream(file, std::ios::binary) << bytes; }

// The count moves past `before` within `limit` (the watch thread's wakeup).
bool moves_past(const folder_changes& changes, std::uint64_t before,
                std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  const auto give_up_at = std::chrono::steady_clock::now() + limit;
  while (changes.generation() == before) {
    if (std::chrono::steady_clock::now() > give_up_at) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

TEST(FolderChanges, EveryWayAFileChangesMovesTheCount) {
  scratch_folder folder;
  folder_changes changes(folder.path().string());
  ASSERT_TRUE(changes.watching()) << changes.problem();
  const fs::path plugin = folder.path() / "libx.so";
  const fs::path staged = folder.path() / "libx.so.partial";
  const std::vector<std::pair<std::string, std::function<void()>>> steps = {
      {"created and written", [&] { write(plugin, "one"); }},
      {"written in place", [&] { std::ofstream(plugin, std::ios::app) << "more"; }},
      {"touched", [&] { fs::last_write_time(plugin, fs::file_time_type::clock::now() - std::chrono::hours(1)); }},
      {"renamed over", [&] {
         write(staged, "two");
         fs::rename(staged, plugin);
       }},
      {"symlinked", [&] { fs::create_symlink(plugin, folder.path() / "liby.so"); }},
      {"removed", [&] { fs::remove(plugin); }},
  };
  for (const auto& [what, change] : steps) {
    // Quiet first: nothing else moves the count between the steps.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto before = changes.generation();
    change();
    EXPECT_TRUE(moves_past(changes, before)) << what;
  }
  EXPECT_TRUE(changes.watching());
}

TEST(FolderChanges, NothingChangedLeavesTheCountAlone) {
  scratch_folder folder;
  write(folder.path() / "libx.so", "one");
  folder_changes changes(folder.path().string());
  const auto before = changes.generation();
  // Reading a file is no change.
  std::ifstream(folder.path() / "libx.so").get();
  EXPECT_FALSE(moves_past(changes, before, std::chrono::milliseconds(100)));
}

TEST(FolderChanges, AFolderThatGoesAwayEndsTheWatch) {
  auto folder = std::make_unique<scratch_folder>();
  folder_changes changes(folder->path().string());
  ASSERT_TRUE(changes.watching());
  const auto before = changes.generation();
  folder.reset();
  EXPECT_TRUE(moves_past(changes, before));
  const auto give_up_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (changes.watching() && std::chrono::steady_clock::now() < give_up_at)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  EXPECT_FALSE(changes.watching());
}

TEST(FolderChanges, AFolderThatCannotBeWatchedSaysWhy) {
  folder_changes changes("/nonexistent/folder");
  EXPECT_FALSE(changes.watching());
  EXPECT_NE(changes.problem().find("/nonexistent/folder"), std::string::npos) << changes.problem();
}

}  // namespace
}  // namespace fcgihost::runners
