// A plugin's own settings: the [plugin.NAME] table of the host's config, as
// text, handed to the plugin's init (FCGIHOST_INIT) when it is loaded.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fcgihost::runners {

using plugin_settings = std::vector<std::pair<std::string, std::string>>;
// Where a plugin's settings come from when it is loaded (the config in force then).
using plugin_settings_source = std::function<plugin_settings(std::string_view plugin)>;

}  // namespace fcgihost::runners
