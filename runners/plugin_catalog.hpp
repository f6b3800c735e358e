// The plugins folder: finds PLUGIN's library (libPLUGIN.so or PLUGIN.so),
// loads a private copy (so a replaced file can be loaded again while requests
// on the old code finish), reads its handler table, and notices on every
// lookup when the file was replaced or removed. Nothing outside the folder is
// ever loaded: names are checked, symlinks resolved and confined.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <fcgihost/plugin.hpp>

namespace fcgihost::runners {

struct loaded_plugin;
class handler_speed;

// A handler, keeping its library loaded for as long as this is held.
struct bound_handler {
  std::shared_ptr<const loaded_plugin> plugin;
  handler_function function = nullptr;
  handler_speed* speed = nullptr;  // the plugin's, valid while `plugin` is held
  std::string plugin_file;  // for logs
};

struct lookup_result {
  enum class outcome { found, not_found, broken, needs_loading };
  outcome result = outcome::not_found;
  bound_handler handler;
  std::string reason;  // why not found or broken, for the log and the response body
};

class plugin_catalog {
 public:
  explicit plugin_catalog(std::filesystem::path plugins_dir);
  ~plugin_catalog();
  plugin_catalog(const plugin_catalog&) = delete;
  plugin_catalog& operator=(const plugin_catalog&) = delete;

  // A lookup that never loads anything: found, not found, broken, or
  // needs_loading (the plugin is new or its file changed). Quick: a stat and
  // a map lookup, so it may run on an I/O thread.
  lookup_result find_loaded(std::string_view plugin, std::string_view handler);
  // Loads what find_loaded() said needs loading (a private copy, dlopen, the
  // plugin's static initialisers), then looks up. Slow and at the mercy of
  // the plugin: never on an I/O thread, and under no lock an I/O thread takes
  // for longer than a map lookup.
  lookup_result load_and_find(std::string_view plugin, std::string_view handler);

  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::string no_plugin_reason(std::string_view plugin) const;
  struct file_identity {
    std::uintmax_t device = 0, inode = 0, size = 0;
    std::int64_t mtime_ns = 0;
    bool operator==(const file_identity&) const = default;
  };

  struct located {
    std::filesystem::path file;  // empty: no such plugin
    file_identity identity;
  };
  // Where PLUGIN's library is, confined to the folder; forgets a removed one.
  located locate(std::string_view plugin);
  lookup_result bind(std::string_view plugin, std::string_view handler, const located& where,
                     std::shared_ptr<const loaded_plugin> library) const;
  std::shared_ptr<const loaded_plugin> load(const std::string& name, const std::filesystem::path& file,
                                            std::string& why);

  std::filesystem::path directory_;  // canonical
  std::filesystem::path private_dir_;
  std::mutex mutex_;
  std::map<std::string, std::pair<file_identity, std::shared_ptr<const loaded_plugin>>, std::less<>> cache_;
  std::atomic<std::uint64_t> generation_{0};
  std::mutex loading_;  // one load at a time: two requests for a new plugin load it once
};

// Plugin and handler names: letters, digits, '_' and '-' only, so a name can
// never step outside the folder.
bool is_safe_plugin_name(std::string_view name);

}  // namespace fcgihost::runners
