// Fuzzes what a script request is made of, both outside input: the
// SCRIPT_FILENAME path (confinement, PATH_INFO) and the params that become
// the script's environment. Input: a path, a newline, then encoded params.
// Nothing outside the scripts folder is ever runnable, nothing with "..",
// and the environment is always well formed, with the host's PATH first and
// no name that would run code (LD_*, BASH_FUNC_*, names not [A-Za-z0-9_]).
#include <runners/script/cgi_environment.hpp>
#include <runners/script/script_location.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;
using namespace fcgihost;

namespace {

// A scripts folder with a script, a folder, a file that is not executable,
// and symlinks that stay inside and that lead out.
fs::path make_scripts_folder() {
  char pattern[] = "/tmp/fcgihost-fuzz-XXXXXX";
  const fs::path root = fs::canonical(::mkdtemp(pattern));
  std::ofstream(root / "hello.sh") << "#!/bin/sh\n";
  fs::permissions(root / "hello.sh", fs::perms::owner_all);
  fs::create_directory(root / "sub");
  std::ofstream(root / "sub" / "inner.sh") << "#!/bin/sh\n";
  fs::permissions(root / "sub" / "inner.sh", fs::perms::owner_all);
  std::ofstream(root / "plain.txt") << "text\n";
  fs::create_symlink(root / "hello.sh", root / "link_in");
  fs::create_symlink("/bin/sh", root / "link_out");
  static const fs::path removed_at_exit = root;
  std::atexit([] {
    std::error_code ignored;
    fs::remove_all(removed_at_exit, ignored);
  });
  return root;
}

bool inside(const fs::path& root, const fs::path& file) {
  return file.native().starts_with(root.native() + "/");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fs::path root = make_scripts_folder();
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto newline = input.find('\n');
  const std::string_view tail = input.substr(0, newline);
  const std::string_view encoded = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  // Mostly paths under the folder, so the fuzzer explores its structure.
  const std::string path = tail.starts_with('/') ? std::string(tail) : root.native() + "/" + std::string(tail);
  const auto where = runners::locate_script(root, path);
  if (where.result == runners::script_location::verdict::runnable) {
    if (!inside(root, where.real_file) || !fs::is_regular_file(where.real_file)) std::abort();
    if (::access(where.real_file.c_str(), X_OK) != 0) std::abort();
    if (path.find("/../") != std::string::npos || path.ends_with("/..")) std::abort();
    if (!where.path_info.empty() && where.path_info.front() != '/') std::abort();
  } else if (where.reason.empty()) {
    std::abort();
  }

  protocol::name_value_list params;
  std::error_code ec;
  protocol::decode_name_values(encoded, params, ec);
  const char* host_environment[] = {"PATH=/usr/bin:/bin", "SECRET=x", "LD_PRELOAD=/x.so", nullptr};
  const runners::script_environment_names names{.from_host = {"SECRET", "LD_PRELOAD"}, .from_request = {"EXTRA"}};
  const auto environment = runners::cgi_environment(params, where, names, host_environment).entries;
  if (environment.empty() || environment.front() != "PATH=/usr/bin:/bin") std::abort();
  std::set<std::string> seen;
  for (const auto& entry : environment) {
    const auto equals = entry.find('=');
    if (equals == 0 || equals == std::string::npos || entry.find('\0') != std::string::npos) std::abort();
    const std::string name = entry.substr(0, equals);
    if (name == "HTTP_PROXY" || !seen.insert(name).second) std::abort();
    if (runners::never_in_script_environment(name) || name == "PERL5OPT") std::abort();
  }
  return 0;
}
