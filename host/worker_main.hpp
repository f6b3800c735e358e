// `fcgi-host --worker PLUGIN [--log-level L] [--log-file F]`: the process a
// plugin's handlers run in when isolated (see runners/worker_pool). Started
// by the host, never by hand: it loads the plugin from descriptor 5, serves
// the one FastCGI connection on descriptor 3 with the host's own request
// machinery, and exits when the host closes it (or dies).
#pragma once

#include <string>
#include <vector>

namespace fcgihost::host {

int serve_as_worker(const std::vector<std::string>& arguments);

}  // namespace fcgihost::host
