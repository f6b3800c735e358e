// Who workers and scripts run as, when the host runs as root and is told to
// drop that (`user`, `group`): they get no supplementary groups, then the
// group, then the user. Without the setting they run as the host does.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace fcgihost::runners {

struct run_as {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // for logs
};

// The user (name or number) and group (name or number; empty: the user's
// own). Throws std::invalid_argument when either is unknown.
run_as resolve_run_as(const std::string& user, const std::string& group);

// setgroups, setgid, setuid, as raw system calls on the calling thread only:
// safe in a vfork child, where glibc's wrappers would signal the threads of
// the host whose memory the child shares. False with errno on failure.
bool drop_privileges_of_this_thread(const run_as& identity);

}  // namespace fcgihost::runners
