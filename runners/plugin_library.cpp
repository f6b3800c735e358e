#include "plugin_library.hpp"

#include <boost/dll/library_info.hpp>

#include <fstream>
#include <iterator>

#include "plugin_abi_check.hpp"

namespace fcgihost::runners {

namespace {
std::string read_whole_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

loaded_plugin::~loaded_plugin() {
  if (kept_copy.empty()) return;
  std::error_code ignored;
  std::filesystem::remove(kept_copy, ignored);
}

std::shared_ptr<loaded_plugin> load_plugin_library(const std::string& name, const std::filesystem::path& file,
                                                   std::string& why) {
  auto plugin = std::make_shared<loaded_plugin>();
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
      if (record.kind != FCGIHOST_EXPORT_HANDLER || !record.name || !record.handler) continue;
      if (auto [entry, added] = plugin->handlers.try_emplace(record.name, name + "." + record.name); added)
        entry->second.function = record.handler;
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
