#include "write_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <runners/function/inotify_events.hpp>

namespace fcgihost::runners {

write_watch::write_watch(const std::string& folder) {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    problem_ = std::string("inotify is unavailable: ") + std::strerror(errno);
    return;
  }
  // IN_MODIFY: written or truncated (cp's O_TRUNC, a linker's ftruncate);
  // IN_CLOSE_WRITE: its writer is done. A rename in or out, or a removal,
  // ends whatever was known about the name. IN_CREATE is not watched: a
  // hard link or a symlink is created whole and never closed after writing.
  constexpr std::uint32_t events = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE;
  if (::inotify_add_watch(fd_, folder.c_str(), events) < 0) {
    problem_ = "cannot watch " + folder + " with inotify: " + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
  }
}

write_watch::~write_watch() {
  if (fd_ >= 0) ::close(fd_);
}

void write_watch::read_events() {
  read_inotify_events(fd_, [this](const inotify_event& event, std::string_view name) {
    if (event.mask & IN_Q_OVERFLOW) {
      // Events were lost: nothing is known to be open, and the whole-file
      // checks are all that is left until the next change.
      open_for_writing_.clear();
      return;
    }
    if (name.empty()) return;  // about the folder itself
    if (event.mask & IN_MODIFY)
      open_for_writing_.insert(std::string(name));
    else if (const auto found = open_for_writing_.find(name); found != open_for_writing_.end())
      open_for_writing_.erase(found);
  });
}

bool write_watch::being_written(std::string_view filename) {
  if (fd_ < 0) return false;
  std::lock_guard lock(mutex_);
  read_events();
  return open_for_writing_.contains(filename);
}

}  // namespace fcgihost::runners
