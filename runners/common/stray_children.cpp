#include "stray_children.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <set>
#include <vector>

namespace fcgihost::runners::stray_children {

namespace {

struct registry {
  std::shared_mutex starting;  // shared: a child being started; exclusive: a sweep
  std::mutex mutex;
  std::set<pid_t> owned;
};

registry& children() {
  static registry instance;
  return instance;
}

struct process_entry {
  pid_t pid = 0;
  pid_t parent = 0;
  pid_t group = 0;
};

// "pid (comm) state ppid pgrp ...", read with plain system calls (comm may
// hold spaces and parentheses: the fields follow its last ')').
bool read_stat(pid_t pid, process_entry& entry) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char text[512];
  const auto n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return false;
  text[n] = '\0';
  const char* close = std::strrchr(text, ')');
  if (!close) return false;
  char state = 0;
  int parent = 0, group = 0;
  if (std::sscanf(close + 1, " %c %d %d", &state, &parent, &group) != 3) return false;
  entry = {pid, static_cast<pid_t>(parent), static_cast<pid_t>(group)};
  return true;
}

std::vector<pid_t> unowned_children(const std::set<pid_t>& owned) {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  const pid_t own_group = ::getpgrp();
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (const dirent* item = ::readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(item->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    process_entry entry;
    if (!read_stat(static_cast<pid_t>(pid), entry) || entry.parent != self) continue;
    if (entry.group == own_group || owned.contains(entry.pid)) continue;
    found.push_back(entry.pid);
  }
  ::closedir(proc);
  return found;
}

}  // namespace

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

std::shared_lock<std::shared_mutex> starting() { return std::shared_lock(children().starting); }

void own(pid_t pid) {
  auto& all = children();
  std::lock_guard lock(all.mutex);
  all.owned.insert(pid);
}

void disown(pid_t pid) {
  auto& all = children();
  std::lock_guard lock(all.mutex);
  all.owned.erase(pid);
}

namespace {

std::set<pid_t> owned_now() {
  auto& all = children();
  std::lock_guard lock(all.mutex);
  return all.owned;
}

}  // namespace

std::size_t sweep(bool wait) {
  auto& all = children();
  // Most sweeps find nothing: look first without holding up the runners
  // that are starting children (a child seen then may be one not yet owned).
  if (!wait && unowned_children(owned_now()).empty()) return 0;
  std::unique_lock no_one_starting(all.starting);
  const std::set<pid_t> owned = owned_now();
  std::size_t killed = 0;
  // A stray's own children come to the host when it dies: a few rounds.
  for (int round = 0; round < 8; ++round) {
    const auto strays = unowned_children(owned);
    if (strays.empty()) break;
    for (const pid_t pid : strays) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) continue;  // it had ended: reaped
      ::kill(-pid, SIGKILL);  // its group, if it leads one
      ::kill(pid, SIGKILL);
      ++killed;
      if (wait) {
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
      } else {
        ::waitpid(pid, &status, WNOHANG);  // reaped now if it died at once; else at the next sweep
      }
    }
    if (!wait) break;
  }
  return killed;
}

void block_child_signal() {
  sigset_t child;
  ::sigemptyset(&child);
  ::sigaddset(&child, SIGCHLD);
  ::pthread_sigmask(SIG_BLOCK, &child, nullptr);
}

periodic_sweep::periodic_sweep(std::chrono::milliseconds period, std::function<void(std::size_t)> killed)
    : thread_([period, killed = std::move(killed)](std::stop_token stop) {
        sigset_t child;
        ::sigemptyset(&child);
        ::sigaddset(&child, SIGCHLD);
        const timespec every{static_cast<time_t>(period.count() / 1000),
                             static_cast<long>(period.count() % 1000) * 1'000'000};
        // Children exit in bursts (a script's group): gather them into one
        // sweep, and a script-heavy load into a few sweeps a second.
        const timespec gather{0, 50'000'000};
        const timespec no_wait{};
        while (!stop.stop_requested()) {
          if (::sigtimedwait(&child, nullptr, &every) == SIGCHLD && !stop.stop_requested()) {
            ::nanosleep(&gather, nullptr);
            while (::sigtimedwait(&child, nullptr, &no_wait) == SIGCHLD) {
            }
          }
          if (stop.stop_requested()) return;
          if (const std::size_t count = sweep(false); count > 0 && killed) killed(count);
        }
      }) {}

periodic_sweep::~periodic_sweep() {
  thread_.request_stop();
  ::pthread_kill(thread_.native_handle(), SIGCHLD);  // out of its wait now
  thread_.join();
}

}  // namespace fcgihost::runners::stray_children
