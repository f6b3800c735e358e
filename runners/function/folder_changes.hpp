// Whether anything in a folder may have changed since a given moment, told
// without a system call: a thread of its own waits on inotify and counts the
// changes (a file written, closed after writing, created, renamed in or out,
// removed, or its times or mode changed). A caller notes generation() before
// it looks at a file; while generation() still returns that number, what it
// saw still holds, up to the thread's wakeup (well under a millisecond: the
// kernel queues the event as the change is made, and the thread is woken
// then). When inotify is unavailable, or the folder itself goes away,
// watching() is false and callers look every time, as they would without it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace fcgihost::runners {

class folder_changes {
 public:
  explicit folder_changes(const std::string& folder);
  ~folder_changes();  // stops and joins the thread
  folder_changes(const folder_changes&) = delete;
  folder_changes& operator=(const folder_changes&) = delete;

  bool watching() const { return watching_.load(std::memory_order_acquire); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  // Why nothing is watched, or empty.
  const std::string& problem() const { return problem_; }

 private:
  void wait_for_changes();

  int inotify_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd: written once to stop the thread
  std::string problem_;
  std::atomic<bool> watching_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::thread thread_;
};

}  // namespace fcgihost::runners
