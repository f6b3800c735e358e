// Which files in a folder are being written right now, as inotify tells:
// a file changed (written, truncated) whose writer has not closed it yet.
// `cp` over a plugin, a linker writing its output in place and an editor
// saving all look like this until they close the file; a file renamed into
// the folder is whole at once. Events are read when asked, never by a thread
// of its own: an answer always reflects every change made before the call.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace fcgihost::runners {

class write_watch {
 public:
  // Watches FOLDER. When inotify is unavailable (its limits reached), it
  // watches nothing and says why in problem(): callers still check files
  // whole, as they would without it.
  explicit write_watch(const std::string& folder);
  ~write_watch();
  write_watch(const write_watch&) = delete;
  write_watch& operator=(const write_watch&) = delete;

  // True when FILENAME (a name in the folder) was changed by a writer that
  // still has it open.
  bool being_written(std::string_view filename);

  const std::string& problem() const { return problem_; }

 private:
  void read_events();  // under mutex_

  int fd_ = -1;
  std::string problem_;
  std::mutex mutex_;
  std::set<std::string, std::less<>> open_for_writing_;
};

}  // namespace fcgihost::runners
