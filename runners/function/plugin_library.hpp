// One plugin library in memory: dlopen'd from a file, its handler table read
// from the "fcgihost" section. Used by the host (isolation = "none") and by a
// worker process, which loads the one plugin it serves.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/dll/shared_library.hpp>

#include <fcgihost/plugin.h>

#include <runners/function/plugin_settings.hpp>
#include <runners/function/handler_speed.hpp>

namespace fcgihost::runners {

struct exported_handler {
  explicit exported_handler(std::string label) : speed(std::move(label)) {}
  fcgihost_handler_fn function = nullptr;
  mutable handler_speed speed;  // learnt from its runs while the library is loaded
};

struct loaded_plugin {
  boost::dll::shared_library library;  // empty when the plugin runs in worker processes
  std::map<std::string, exported_handler, std::less<>> handlers;
  // The private copy workers load (isolation = "process"); removed with this.
  std::filesystem::path kept_copy;
  std::uint64_t version = 0;  // which load of the plugin this is, for logs and pools
  fcgihost_shutdown_fn shutdown = nullptr;  // run before the library is unloaded (its init succeeded)

  loaded_plugin() = default;
  loaded_plugin(const loaded_plugin&) = delete;
  loaded_plugin& operator=(const loaded_plugin&) = delete;
  ~loaded_plugin();
};

// Why a plugin could not be loaded.
struct plugin_load_failure {
  std::string why;
  // Its init ran and failed: trying the same file with the same settings
  // again would run its init again (a database connection each time), so
  // the failure stands until the file or its settings change.
  bool in_init = false;
};

// dlopen()s `file`, reads its handlers (named "NAME.HANDLER" in logs) and
// runs its init with `settings`. Null with `failed` set when it cannot be
// loaded, exports nothing, was built for another plugin ABI, exports two
// inits or two shutdowns, or its init failed.
std::shared_ptr<loaded_plugin> load_plugin_library(const std::string& name, const std::filesystem::path& file,
                                                   const plugin_settings& settings, plugin_load_failure& failed);

std::vector<std::string> handler_names(const loaded_plugin& plugin);

}  // namespace fcgihost::runners
