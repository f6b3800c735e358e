#include "worker_settings.hpp"

#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include <runners/script/script_limits.hpp>

#include <host/config/settings_table.hpp>
#include <host/worker/worker_main.hpp>

namespace fcgihost::host {

std::vector<std::string> worker_arguments(const host_config& config, const std::optional<runners::run_as>& identity) {
  const bool verbose = config.log_level == "debug" || config.log_level == "trace";
  host_config for_worker = config;
  if (!verbose) for_worker.log_level = "warn";
  const host_config defaults;
  std::vector<std::string> arguments;
  const auto add = [&](std::string key, const std::string& value) {
    arguments.push_back(std::move(key));
    arguments.push_back(value);
  };
  for (const auto key : worker_setting_keys) {
    const setting_spec& row = *find_setting(key);
    if (key == "log-level" || row.show(for_worker) != row.show(defaults)) add("--" + std::string(key), row.show(for_worker));
  }
  if (identity) {
    add("--uid", std::to_string(identity->uid));
    add("--gid", std::to_string(identity->gid));
  }
  return arguments;
}

std::optional<runners::run_as> identity_of(const host_config& config) {
  if (config.user.empty()) {
    if (!config.group.empty()) throw std::invalid_argument("group is set without user");
    return std::nullopt;
  }
  auto identity = runners::resolve_run_as(config.user, config.group);
  if (::geteuid() != 0 && (identity.uid != ::geteuid() || identity.gid != ::getegid()))
    throw std::invalid_argument("user " + config.user + " is set, but only a host running as root can switch to it");
  if (::geteuid() != 0) return std::nullopt;  // already that user
  return identity;
}

runners::worker_pool_settings worker_pool_settings_of(const host_config& config,
                                                      const std::optional<runners::run_as>& identity) {
  runners::worker_pool_settings settings;
  settings.limits.fixed_size = config.workers_static;
  settings.limits.max_workers = config.workers;
  settings.limits.min_idle = std::min(config.workers_min_idle, config.workers);
  settings.limits.idle_timeout = config.workers_idle_timeout;
  settings.limits.max_queue = config.workers_queue != 0 ? config.workers_queue : config.max_requests;
  settings.limits.pipeline = config.worker_pipeline;
  settings.limits.max_requests_per_worker = config.worker_max_requests;
  settings.limits.max_memory_per_worker = config.worker_max_memory;
  runners::script_limits limits;
  config.script_limits.apply_to(limits);
  settings.kill_grace = limits.kill_grace;
  settings.worker_arguments = worker_arguments(config, identity);
  settings.nice = config.worker_nice;
  return settings;
}

}  // namespace fcgihost::host
