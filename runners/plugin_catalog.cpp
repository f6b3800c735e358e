#include "plugin_catalog.hpp"

#include <boost/dll/library_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "handler_speed.hpp"

namespace fcgihost::runners {

namespace fs = std::filesystem;

struct exported_handler {
  explicit exported_handler(std::string label) : speed(std::move(label)) {}
  handler_function function = nullptr;
  mutable handler_speed speed;  // learnt from its runs while the library is loaded
};

struct loaded_plugin {
  boost::dll::shared_library library;
  std::map<std::string, exported_handler, std::less<>> handlers;
};

bool is_safe_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

plugin_catalog::plugin_catalog(fs::path plugins_dir) {
  std::error_code ec;
  directory_ = fs::canonical(plugins_dir, ec);
  if (ec || !fs::is_directory(directory_))
    throw std::runtime_error("plugins folder " + plugins_dir.string() + " is not a directory");
  std::string pattern = (fs::temp_directory_path() / "fcgi-host-plugins-XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a private folder for plugin copies");
  private_dir_ = pattern;  // mkdtemp makes it 0700
}

plugin_catalog::~plugin_catalog() {
  std::error_code ignored;
  fs::remove_all(private_dir_, ignored);
}

plugin_catalog::located plugin_catalog::locate(std::string_view plugin) {
  located where;
  // libNAME.so first, as CMake names it; NAME.so for hand-built ones.
  struct stat info {};
  for (const auto& candidate : {"lib" + std::string(plugin) + ".so", std::string(plugin) + ".so"}) {
    const fs::path named = directory_ / candidate;
    // The folder is canonical and the name has no '/': a regular file found
    // by lstat is its own real path. Only a symlink needs resolving, once per
    // request instead of a readlink per path component for every request.
    if (::lstat(named.c_str(), &info) != 0) continue;
    if (S_ISREG(info.st_mode)) {
      where.file = named;
      break;
    }
    std::error_code ec;
    const fs::path real = fs::canonical(named, ec);
    if (ec) continue;
    // A symlink may point anywhere; only what resolves inside the folder counts.
    if (real.parent_path() != directory_ || ::stat(real.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    where.file = real;
    break;
  }
  if (where.file.empty()) {
    std::lock_guard lock(mutex_);
    if (auto gone = cache_.find(plugin); gone != cache_.end()) cache_.erase(gone);
    return where;
  }
  where.identity = {info.st_dev, info.st_ino, static_cast<std::uintmax_t>(info.st_size),
                    static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
  return where;
}

lookup_result plugin_catalog::bind(std::string_view plugin, std::string_view handler, const located& where,
                                   std::shared_ptr<const loaded_plugin> library) const {
  lookup_result found;
  const auto entry = library->handlers.find(handler);
  if (entry == library->handlers.end()) {
    found.reason = "plugin '" + std::string(plugin) + "' has no handler '" + std::string(handler) + "'";
    return found;
  }
  found.result = lookup_result::outcome::found;
  found.handler = {std::move(library), entry->second.function, &entry->second.speed, where.file.string()};
  return found;
}

std::string plugin_catalog::no_plugin_reason(std::string_view plugin) const {
  return "no plugin '" + std::string(plugin) + "' in " + directory_.string();
}

lookup_result plugin_catalog::find_loaded(std::string_view plugin, std::string_view handler) {
  lookup_result found;
  if (!is_safe_plugin_name(plugin)) {
    found.reason = "plugin name '" + std::string(plugin) + "' is not allowed";
    return found;
  }
  const located where = locate(plugin);
  if (where.file.empty()) {
    found.reason = no_plugin_reason(plugin);
    return found;
  }
  std::shared_ptr<const loaded_plugin> library;
  {
    std::lock_guard lock(mutex_);
    const auto cached = cache_.find(plugin);
    if (cached != cache_.end() && cached->second.first == where.identity) library = cached->second.second;
  }
  if (!library) {
    found.result = lookup_result::outcome::needs_loading;
    return found;
  }
  return bind(plugin, handler, where, std::move(library));
}

lookup_result plugin_catalog::load_and_find(std::string_view plugin, std::string_view handler) {
  std::lock_guard one_load_at_a_time(loading_);
  // Another request may have loaded it meanwhile.
  lookup_result found = find_loaded(plugin, handler);
  if (found.result != lookup_result::outcome::needs_loading) return found;
  const located where = locate(plugin);
  if (where.file.empty()) {
    found.result = lookup_result::outcome::not_found;
    found.reason = no_plugin_reason(plugin);
    return found;
  }
  std::string why;
  auto library = load(std::string(plugin), where.file, why);  // no lock the lookups take is held here
  if (!library) {
    found.result = lookup_result::outcome::broken;
    found.reason = "plugin " + where.file.string() + " cannot be loaded: " + why;
    return found;
  }
  {
    // In-flight requests keep the old library through their bound_handler.
    std::lock_guard lock(mutex_);
    cache_[std::string(plugin)] = {where.identity, library};
  }
  return bind(plugin, handler, where, std::move(library));
}

std::shared_ptr<const loaded_plugin> plugin_catalog::load(const std::string& name, const fs::path& file,
                                                          std::string& why) {
  // dlopen() of a path already open returns the old handle, so each version
  // gets a private copy of its own, removed once mapped.
  const fs::path copy = private_dir_ / (name + "." + std::to_string(++generation_) + ".so");
  std::error_code ec;
  fs::copy_file(file, copy, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    why = "copy failed: " + ec.message();
    return nullptr;
  }
  struct remove_copy {
    const fs::path& path;
    ~remove_copy() {
      std::error_code ignored;
      fs::remove(path, ignored);
    }
  } cleanup{copy};

  auto plugin = std::make_shared<loaded_plugin>();
  try {
    plugin->library.load(copy.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    boost::dll::library_info info(copy.string());
    for (const auto& symbol : info.symbols("fcgihost")) {
      const auto& record = plugin->library.get<const handler_export>(symbol);
      if (record.abi_version != plugin_abi_version) {
        why = "built for plugin ABI " + std::to_string(record.abi_version) + ", the host speaks " +
              std::to_string(plugin_abi_version);
        return nullptr;
      }
      if (!record.name || !record.function) continue;
      if (auto [entry, added] = plugin->handlers.try_emplace(record.name, name + "." + record.name); added)
        entry->second.function = record.function;
    }
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
  if (plugin->handlers.empty()) {
    why = "it exports no handlers (FCGIHOST_HANDLER)";
    return nullptr;
  }
  return plugin;
}

}  // namespace fcgihost::runners
