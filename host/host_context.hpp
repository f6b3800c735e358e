// What every connection of the host shares: settings (swapped whole on
// SIGHUP), the runners, the logger, and the counts the limits apply to.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <memory>
#include <string>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/function_runner.hpp>
#include <runners/process_runner.hpp>
#include <runners/run_order.hpp>
#include <runners/worker_runner.hpp>

#include "connection_registry.hpp"
#include "log_throttle.hpp"
#include "metrics.hpp"
#include "config.hpp"
#include "peer_filter.hpp"

namespace fcgihost::host {

struct host_context {
  std::shared_ptr<spdlog::logger> log;
  // Where access lines go (the log itself unless they are JSON: see logging.hpp).
  std::shared_ptr<spdlog::logger> access_log;
  std::atomic<std::shared_ptr<const host_config>> config;
  runners::function_runner* functions = nullptr;
  runners::process_runner* scripts = nullptr;
  runners::worker_runner* workers = nullptr;  // isolation = "process"
  const runners::plugin_counters* in_process_plugins = nullptr;  // the catalog's, isolation = "none"
  connection_registry connections;
  peer_filter peers;
  std::atomic<std::size_t> open_connections{0};
  std::atomic<std::size_t> active_requests{0};
  // The host's own answers (ping, status page) take none of --max-requests'
  // slots but one of these, so that a client that never reads cannot make it
  // hold status pages without bound.
  static constexpr std::size_t host_answers_at_once = 64;
  std::atomic<std::size_t> host_answers{0};
  host_metrics metrics;  // for the status page
  // Warnings for refused requests and connections, at most 10 a second each.
  log_throttle refused_requests_log, refused_connections_log;
  std::atomic<std::uint64_t> requests_begun{0};  // ever, for telling when the host is idle
  std::atomic<bool> draining{false};
  // In a worker process: the plugin it serves (requests name only the
  // handler), and what GET_VALUES tells the host about it.
  std::string worker_plugin;
  protocol::name_value_list extra_values;
  runners::run_order* run_order = nullptr;  // in a worker: handlers run one at a time, in order

  std::shared_ptr<const host_config> settings() const { return config.load(); }
};

}  // namespace fcgihost::host
