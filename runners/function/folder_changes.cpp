#include "folder_changes.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <runners/function/inotify_events.hpp>

namespace fcgihost::runners {

folder_changes::folder_changes(const std::string& folder) {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) {
    problem_ = std::string("inotify is unavailable: ") + std::strerror(errno);
    return;
  }
  // Every way a name in the folder can come to mean another file, or its
  // file another content: IN_ATTRIB for a touch (its time is part of what
  // callers compare). IN_DELETE_SELF / IN_MOVE_SELF: the folder itself went.
  constexpr std::uint32_t events = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                   IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0 || ::inotify_add_watch(inotify_fd_, folder.c_str(), events) < 0) {
    problem_ = "cannot watch " + folder + " for changes: " + std::strerror(errno);
    return;
  }
  watching_ = true;
  thread_ = std::thread([this] { wait_for_changes(); });
}

folder_changes::~folder_changes() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

void folder_changes::wait_for_changes() {
  while (true) {
    std::array<pollfd, 2> waits{{{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}}};
    if (::poll(waits.data(), waits.size(), -1) < 0) {
      if (errno == EINTR) continue;
      watching_ = false;  // cannot wait any more: callers look every time
      return;
    }
    if (waits[1].revents != 0) return;
    bool folder_gone = false;
    read_inotify_events(inotify_fd_, [&](const inotify_event& event, std::string_view) {
      if (event.mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) folder_gone = true;
    });
    // Counted after the events are read: a caller that sees the new number
    // looks again, and finds at least what these events announced. An
    // overflow (IN_Q_OVERFLOW) lost events: counting it is all that is needed.
    if (folder_gone) watching_.store(false, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    if (folder_gone) return;
  }
}

}  // namespace fcgihost::runners
