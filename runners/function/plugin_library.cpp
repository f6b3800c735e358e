#include "plugin_library.hpp"

#include <boost/dll/library_info.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>

#include <runners/function/plugin_abi_check.hpp>
#include <runners/function/plugin_unloader.hpp>

namespace fcgihost::runners {

namespace {
std::string read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

loaded_plugin::~loaded_plugin() {
  // Every handler holding it has returned: the plugin says goodbye, then is
  // unloaded (its static destructors run), on the unloader's thread: this
  // may be an I/O thread, and either may take its time.
  if (library.is_loaded()) plugin_unloader::instance().unload(shutdown, std::move(library));
  if (kept_copy.empty()) return;
  std::error_code ignored;
  std::filesystem::remove(kept_copy, ignored);
}

namespace {

// Runs the plugin's init with its settings: false with `why` if it failed.
// An init's failure message is sent with every request for the plugin (and,
// from a worker, in one FastCGI record): a careless plugin's megabyte is cut.
constexpr std::size_t most_init_message_bytes = 4096;

bool run_init(fcgihost_init_fn init, const std::string& name, const plugin_settings& settings, std::string& why) {
  std::vector<fcgihost_setting> table;
  for (const auto& [key, value] : settings)
    table.push_back({{key.data(), key.size()}, {value.data(), value.size()}});
  const fcgihost_plugin_settings given{{name.data(), name.size()}, table.data(), table.size()};
  std::string failure;
  auto fail = [](void* context, const char* message, std::size_t size) {
    auto& into = *static_cast<std::string*>(context);
    into.assign(message, std::min(size, most_init_message_bytes));
    if (size > most_init_message_bytes) into += "... (" + std::to_string(size - most_init_message_bytes) + " more bytes)";
  };
  if (init(&given, fail, &failure) == 0) return true;
  why = "its init failed: " + (failure.empty() ? std::string("it did not say why") : failure);
  return false;
}

// An init or a shutdown is one per plugin: two would leave the host to pick.
template <typename Function>
bool take_once(Function& into, Function found, const char* what, std::string& why) {
  if (into && into != found) {
    // Appended piecewise: gcc 12 warns (-Warray-bounds) on the chained operator+.
    why = "it exports more than one ";
    why += what;
    why += " (FCGIHOST_INIT and FCGIHOST_SHUTDOWN are once per plugin)";
    return false;
  }
  into = found;
  return true;
}

}  // namespace

std::shared_ptr<loaded_plugin> load_plugin_library(const std::string& name, const std::filesystem::path& file,
                                                   const plugin_settings& settings, plugin_load_failure& failed) {
  auto& why = failed.why;
  auto plugin = std::make_shared<loaded_plugin>();
  fcgihost_init_fn init = nullptr;
  fcgihost_shutdown_fn shutdown = nullptr;
  try {
    // Its exports checked in the file first: none of its code runs unless this host can call it.
    if (auto problem = plugin_abi_problem(read_whole_file(file)); problem) {
      why = *problem;
      return nullptr;
    }
    plugin->library.load(file.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    boost::dll::library_info info(file.string());
    for (const auto& symbol : info.symbols("fcgihost")) {
      const auto& record = plugin->library.get<const fcgihost_export>(symbol);
      if (record.abi_version != FCGIHOST_ABI_VERSION) {  // checked in the file before loading too
        why = abi_mismatch_text(record.abi_version);
        return nullptr;
      }
      if (record.kind == FCGIHOST_EXPORT_INIT && record.entry.init && !take_once(init, record.entry.init, "init", why))
        return nullptr;
      if (record.kind == FCGIHOST_EXPORT_SHUTDOWN && record.entry.shutdown &&
          !take_once(shutdown, record.entry.shutdown, "shutdown", why))
        return nullptr;
      if (record.kind != FCGIHOST_EXPORT_HANDLER || !record.name || !record.entry.handler) continue;
      if (auto [entry, added] = plugin->handlers.try_emplace(record.name, name + "." + record.name); added)
        entry->second.function = record.entry.handler;
    }
  } catch (const std::exception& e) {
    why = e.what();
    return nullptr;
  }
  if (plugin->handlers.empty()) {
    why = "it exports no handlers (FCGIHOST_HANDLER)";
    return nullptr;
  }
  if (init && !run_init(init, name, settings, why)) {
    failed.in_init = true;
    return nullptr;
  }
  plugin->shutdown = shutdown;
  return plugin;
}

std::vector<std::string> handler_names(const loaded_plugin& plugin) {
  std::vector<std::string> names;
  for (const auto& [name, handler] : plugin.handlers) names.push_back(name);
  return names;
}

}  // namespace fcgihost::runners
