#include "run_as.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <stdexcept>

namespace fcgihost::runners {

namespace {

std::optional<unsigned> number(const std::string& text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

run_as resolve_run_as(const std::string& user, const std::string& group) {
  run_as identity;
  const passwd* account = number(user) ? ::getpwuid(*number(user)) : ::getpwnam(user.c_str());
  if (account) {
    identity.uid = account->pw_uid;
    identity.gid = account->pw_gid;
    identity.name = account->pw_name;
  } else if (const auto uid = number(user)) {
    identity.uid = *uid;  // a number with no account: allowed, as with setpriv
    identity.gid = *uid;
    identity.name = user;
  } else {
    throw std::invalid_argument("user '" + user + "' does not exist");
  }
  if (!group.empty()) {
    const struct group* entry = number(group) ? ::getgrgid(*number(group)) : ::getgrnam(group.c_str());
    if (entry)
      identity.gid = entry->gr_gid;
    else if (const auto gid = number(group))
      identity.gid = *gid;
    else
      throw std::invalid_argument("group '" + group + "' does not exist");
  }
  return identity;
}

bool drop_privileges_of_this_thread(const run_as& identity) {
  if (::syscall(SYS_setgroups, 0, nullptr) != 0) return false;
  if (::syscall(SYS_setgid, identity.gid) != 0) return false;
  return ::syscall(SYS_setuid, identity.uid) == 0;
}

}  // namespace fcgihost::runners
