#include "script_location.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace fcgihost::runners {

namespace fs = std::filesystem;

namespace {

script_location refuse(script_location::verdict verdict, std::string reason) {
  script_location where;
  where.result = verdict;
  where.reason = std::move(reason);
  return where;
}

// The folder itself counts as inside: a path that stops there is a directory.
bool inside(const fs::path& root, const fs::path& real) {
  const std::string& folder = root.native();
  const std::string& file = real.native();
  if (folder == "/" || file == folder) return true;
  return file.size() > folder.size() && file.starts_with(folder) && file[folder.size()] == '/';
}

// The path's components without empty and "." ones; a ".." makes it fail,
// whatever it would resolve to.
bool split_components(std::string_view path, std::vector<std::string_view>& parts) {
  while (!path.empty()) {
    const auto slash = path.find('/');
    const auto part = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") return false;
    parts.push_back(part);
  }
  return true;
}

std::string join(const std::vector<std::string_view>& parts, std::size_t from, std::size_t to) {
  std::string joined;
  for (std::size_t i = from; i < to; ++i) (joined += '/') += parts[i];
  return joined;
}

}  // namespace

script_location locate_script(const fs::path& scripts_root, std::string_view requested) {
  using verdict = script_location::verdict;
  const std::string shown(requested.substr(0, 256));
  if (requested.find('\0') != std::string_view::npos) return refuse(verdict::not_found, "the path contains a NUL byte");
  if (!requested.starts_with('/')) return refuse(verdict::not_found, "'" + shown + "' is not an absolute path");
  std::vector<std::string_view> parts;
  if (!split_components(requested, parts)) return refuse(verdict::forbidden, "'" + shown + "' contains '..'");

  // The longest leading part that exists names the file; the rest is PATH_INFO.
  for (std::size_t count = parts.size(); count > 0; --count) {
    const std::string candidate = join(parts, 0, count);
    struct stat status {};
    if (::stat(candidate.c_str(), &status) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return refuse(verdict::forbidden, "'" + candidate + "' cannot be examined: " + std::strerror(errno));
    }
    std::error_code error;
    const fs::path real = fs::canonical(candidate, error);
    if (error) return refuse(verdict::forbidden, "'" + candidate + "' cannot be resolved: " + error.message());
    if (!inside(scripts_root, real))
      return refuse(verdict::forbidden, "'" + candidate + "' is outside the scripts folder " + scripts_root.string());
    if (S_ISDIR(status.st_mode)) {
      if (count == parts.size()) return refuse(verdict::forbidden, "'" + candidate + "' is a directory");
      return refuse(verdict::not_found, "no script '" + shown + "' in the scripts folder");
    }
    if (!S_ISREG(status.st_mode)) return refuse(verdict::forbidden, "'" + candidate + "' is not a regular file");
    // As suEXEC does: a script never runs with its file's owner's rights
    // (no_new_privs would ignore the bits anyway; refusing says so).
    if ((status.st_mode & (S_ISUID | S_ISGID)) != 0)
      return refuse(verdict::forbidden, "'" + candidate + "' is setuid or setgid: the host runs no such file");
    if (::faccessat(AT_FDCWD, real.c_str(), X_OK, AT_EACCESS) != 0)
      return refuse(verdict::forbidden, "'" + candidate + "' is not executable by the host");
    script_location where;
    where.result = verdict::runnable;
    where.requested_file = candidate;
    where.real_file = real;
    where.path_info = join(parts, count, parts.size());
    if (!where.path_info.empty() && requested.ends_with('/')) where.path_info += '/';
    return where;
  }
  return refuse(verdict::not_found, "no script '" + shown + "' in the scripts folder");
}

fs::path canonical_scripts_root(const fs::path& folder) {
  std::error_code error;
  fs::path root = fs::canonical(folder, error);
  if (error) throw std::runtime_error("the scripts folder " + folder.string() + ": " + error.message());
  if (!fs::is_directory(root)) throw std::runtime_error("the scripts folder " + folder.string() + " is not a directory");
  return root;
}

}  // namespace fcgihost::runners
