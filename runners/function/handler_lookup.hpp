// How a runner finds a plugin's handler by name: in the plugins folder (the
// host's plugin_catalog) or in the one library a worker process serves.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <fcgihost/plugin.h>

namespace fcgihost::runners {

struct loaded_plugin;
class handler_speed;

// A handler, keeping its plugin loaded (and, for workers, its private copy
// on disk) for as long as this is held.
struct bound_handler {
  std::shared_ptr<const loaded_plugin> plugin;
  fcgihost_handler_fn function = nullptr;  // null when the plugin runs in worker processes
  handler_speed* speed = nullptr;       // the plugin's, valid while `plugin` is held
  std::string plugin_file;              // for logs
  std::string plugin_name;
  std::string handler_name;
};

struct lookup_result {
  enum class outcome { found, not_found, broken, needs_loading };
  outcome result = outcome::not_found;
  bound_handler handler;
  std::string reason;  // why not found or broken, for the log and the response body
};

class handler_lookup {
 public:
  // A lookup that never loads anything: quick enough for an I/O thread.
  virtual lookup_result find_loaded(std::string_view plugin, std::string_view handler) = 0;
  // Loads what find_loaded() said needs loading, then looks up. Slow and at
  // the mercy of the plugin: never on an I/O thread.
  virtual lookup_result load_and_find(std::string_view plugin, std::string_view handler) = 0;

 protected:
  ~handler_lookup() = default;
};

}  // namespace fcgihost::runners
