// `fcgi-host --worker PLUGIN [--KEY VALUE]...`: the process a
// plugin's handlers run in when isolated (see runners/worker_pool). Started
// by the host, never by hand: it loads the plugin from descriptor 5, serves
// the one FastCGI connection on descriptor 3 with the host's own request
// machinery, and exits when the host closes it (or dies).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace fcgihost::host {

// The settings a worker takes from the host, as flags of the settings table
// (besides --uid and --gid, resolved by the host).
inline constexpr std::array<std::string_view, 6> worker_setting_keys{
    "log-level", "log-file", "handler-threads", "worker-memory", "worker-open-files", "worker-processes"};

int serve_as_worker(const std::vector<std::string>& arguments);

}  // namespace fcgihost::host
