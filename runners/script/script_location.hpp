// Where a script request leads, decided before anything runs: the scripts
// folder is the only place a script may come from. A path is taken apart as
// CGI expects (/folder/app.sh/extra: the script app.sh, PATH_INFO /extra),
// its real path (symlinks followed) must lie inside the folder, and it must
// be a regular file the host may execute. Every refusal names its reason.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace fcgihost::runners {

struct script_location {
  enum class verdict { runnable, not_found, forbidden };
  verdict result = verdict::not_found;
  std::string requested_file;      // the part of the path that named the file, as asked
  std::filesystem::path real_file; // symlinks resolved: what is executed
  std::string path_info;           // what followed the file in the path ("" or "/...")
  std::string reason;              // not runnable: why (for the log and the response body)
};

// `scripts_root` must be canonical (see canonical_scripts_root). `requested`
// is an absolute path.
script_location locate_script(const std::filesystem::path& scripts_root, std::string_view requested);

// The folder's canonical path; throws std::runtime_error when it is not a
// directory the host can use.
std::filesystem::path canonical_scripts_root(const std::filesystem::path& folder);

}  // namespace fcgihost::runners
