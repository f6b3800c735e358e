// The plugins folder: finds PLUGIN's library (libPLUGIN.so or PLUGIN.so),
// makes a private copy (so a replaced file can be loaded again while requests
// on the old code finish), and notices when the file was replaced or removed:
// a lookup looks at the file again only after inotify told of a change in the
// folder (every lookup, where inotify is unavailable). In process (isolation = "none"), it loads the copy and
// reads its handler table; for worker processes it keeps the copy for them
// to load. A file still being written (its writer has not closed it, as
// inotify tells; or not yet a whole ELF file; or changing while copied) is
// never loaded: the previous version serves meanwhile, and a
// new plugin is waited for briefly. Nothing outside the folder is ever
// loaded: names are checked, symlinks resolved and confined.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <runners/function/folder_changes.hpp>
#include <runners/function/handler_lookup.hpp>
#include <runners/function/plugin_settings.hpp>
#include <runners/function/write_watch.hpp>

namespace fcgihost::runners {

// What the catalog has loaded, for the status page. A load is a plugin's
// first version; a reload, a newer version of its file replacing one; a
// failure, a lookup that found the file but could not load it (each
// request that tries counts: a broken plugin is not cached).
struct plugin_counters {
  std::atomic<std::uint64_t> loads{0};
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> load_failures{0};
};

class plugin_catalog final : public handler_lookup {
 public:
  enum class mode { load_in_process, copy_for_workers };
  explicit plugin_catalog(std::filesystem::path plugins_dir, mode how = mode::load_in_process);
  ~plugin_catalog();
  plugin_catalog(const plugin_catalog&) = delete;
  plugin_catalog& operator=(const plugin_catalog&) = delete;

  // A lookup that never loads anything: found, not found, broken, or
  // needs_loading (the plugin is new or its file changed). Quick: a map
  // lookup (and a stat after a change in the folder), so it may run on an
  // I/O thread.
  lookup_result find_loaded(std::string_view plugin, std::string_view handler) override;
  // Loads what find_loaded() said needs loading (a private copy, dlopen, the
  // plugin's static initialisers), then looks up. Slow and at the mercy of
  // the plugin: never on an I/O thread, and under no lock an I/O thread takes
  // for longer than a map lookup.
  lookup_result load_and_find(std::string_view plugin, std::string_view handler) override;

  const std::filesystem::path& directory() const { return directory_; }
  // Why files being written cannot be told apart, or changes seen without
  // looking (inotify unavailable), or empty: the host logs it once.
  const std::string& watch_problem() const {
    return writes_.problem().empty() ? changes_.problem() : writes_.problem();
  }
  const plugin_counters& counts() const { return counts_; }
  // Where a plugin loaded in process gets the settings for its init (none without).
  void set_settings_source(plugin_settings_source source) { settings_for_ = std::move(source); }
  // The plugin's [plugin.NAME] settings changed (SIGHUP): its next request
  // loads it anew, as a new version with them, as if its file had changed.
  void settings_changed(std::string_view plugin);
  // Removes the private copies now (the host leaves without its destructors).
  void remove_copies();
  // The private folder of the copies, as mapped (its real path).
  std::filesystem::path copies_folder() const;

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
  // Looked up on disk only when the folder changed since the last look.
  located locate(std::string_view plugin);
  located locate_on_disk(std::string_view plugin);
  lookup_result bind(std::string_view plugin, std::string_view handler, const located& where,
                     std::shared_ptr<const loaded_plugin> library) const;
  struct load_outcome {
    std::shared_ptr<const loaded_plugin> plugin;
    std::string why;          // when no plugin
    bool incomplete = false;   // the file is still being written: try again soon
    bool writer_open = false;  // ... and its writer has it open
    bool init_failed = false;  // its init ran and failed: not tried again on the same file
  };
  load_outcome load(const std::string& name, const located& where);
  // The version in the cache, whatever the file is now.
  std::shared_ptr<const loaded_plugin> cached(std::string_view plugin);

  std::filesystem::path directory_;  // canonical
  std::filesystem::path private_dir_;
  mode mode_;
  std::mutex mutex_;
  std::map<std::string, std::pair<file_identity, std::shared_ptr<const loaded_plugin>>, std::less<>> cache_;
  // Files found still being written, while an older version serves.
  struct incomplete_file {
    file_identity identity;
    bool writer_open = false;  // its writer had it open (else: not a whole file)
  };
  std::map<std::string, incomplete_file, std::less<>> incomplete_;
  // Files whose init failed (in process): 500 with why until the file or its settings change.
  struct failed_init {
    file_identity identity;
    std::string why;
  };
  std::map<std::string, failed_init, std::less<>> failed_inits_;
  write_watch writes_;
  folder_changes changes_;
  // Where each found plugin was, and changes_.generation() before it was looked for.
  std::map<std::string, std::pair<located, std::uint64_t>, std::less<>> located_;
  std::atomic<std::uint64_t> generation_{0};
  plugin_counters counts_;
  plugin_settings_source settings_for_;
  std::mutex loading_;  // one load at a time: two requests for a new plugin load it once
};

// Plugin and handler names: letters, digits, '_' and '-' only, so a name can
// never step outside the folder.
bool is_safe_plugin_name(std::string_view name);

}  // namespace fcgihost::runners
