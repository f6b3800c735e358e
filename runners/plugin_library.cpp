#include "plugin_library.hpp"

#include <boost/dll/library_info.hpp>

namespace fcgihost::runners {

loaded_plugin::~loaded_plugin() {
  if (kept_copy.empty()) return;
  std::error_code ignored;
  std::filesystem::remove(kept_copy, ignored);
}

std::shared_ptr<loaded_plugin> load_plugin_library(const std::string& name, const std::filesystem::path& file,
                                                   std::string& why) {
  auto plugin = std::make_shared<loaded_plugin>();
  try {
    plugin->library.load(file.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    boost::dll::library_info info(file.string());
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

std::vector<std::string> handler_names(const loaded_plugin& plugin) {
  std::vector<std::string> names;
  for (const auto& [name, handler] : plugin.handlers) names.push_back(name);
  return names;
}

}  // namespace fcgihost::runners
