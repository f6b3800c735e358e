// Processes that outlive what started them. The host is a child subreaper
// (PR_SET_CHILD_SUBREAPER): what a handler or a script leaves behind when
// its parent dies (a forked child whose worker was killed, a daemon that
// called setsid) is reparented to the host rather than to init, and the host
// ends it. A child the host owns (a worker, a script, being started or
// running) is never touched here, so each runner still reaps its own and
// gets its own exit status; nor is one in the host's own process group (an
// in-process plugin's child, an upgrade's new process).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <thread>

namespace fcgihost::runners::stray_children {

// Makes this process the subreaper of its descendants.
void become_subreaper();

// Held from before a child is started until it is owned: a sweep never
// sees a child of the host that nobody has claimed yet.
std::shared_lock<std::shared_mutex> starting();
void own(pid_t pid);
void disown(pid_t pid);

// Kills (SIGKILL, with its process group) every child of this process that
// nobody owns, outside the host's own process group, and reaps those that
// have died; with `wait`, waits for each to die (the host's exit). Reads
// /proc: a few hundred small reads. Returns how many it killed.
std::size_t sweep(bool wait);

// Blocks SIGCHLD in the calling thread and every thread it starts later:
// call it before any thread exists. SIGCHLD then only wakes periodic_sweep.
void block_child_signal();

// Sweeps (without waiting) on a thread of its own, until destroyed: soon
// after each SIGCHLD (a stray that died is reaped, not left a zombie; several
// at once are one sweep), and every `period` (a stray that still runs is
// ended). Needs block_child_signal(). `killed(n)` is called on that thread
// after a sweep that killed some.
class periodic_sweep {
 public:
  periodic_sweep(std::chrono::milliseconds period, std::function<void(std::size_t)> killed);
  ~periodic_sweep();
  periodic_sweep(const periodic_sweep&) = delete;
  periodic_sweep& operator=(const periodic_sweep&) = delete;

 private:
  std::jthread thread_;
};

}  // namespace fcgihost::runners::stray_children
