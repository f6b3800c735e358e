// What the host's configuration means for its plugin workers: the pool's
// limits, the arguments each worker starts with (passed through the settings
// table, which the worker parses again), and who workers and scripts run as.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <runners/common/run_as.hpp>
#include <runners/worker/worker_pool.hpp>

#include <host/config/config.hpp>

namespace fcgihost::host {

// `user`/`group` when the host is root; none when it already runs as them.
// Throws std::invalid_argument for a user it cannot switch to.
std::optional<runners::run_as> identity_of(const host_config& config);

// What a worker is started with besides its plugin: the host's logging, its
// limits, and who it runs as.
std::vector<std::string> worker_arguments(const host_config& config, const std::optional<runners::run_as>& identity);

runners::worker_pool_settings worker_pool_settings_of(const host_config& config,
                                                      const std::optional<runners::run_as>& identity);

}  // namespace fcgihost::host
