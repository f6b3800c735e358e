// What every request of the host shares: settings (swapped whole on
// SIGHUP), the logger, the runners and counters (host_state.hpp), and the
// limits of the host's own answers.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>

#include <runners/worker/run_order.hpp>

#include <host/common/log_throttle.hpp>
#include <host/config/config.hpp>
#include <host/request/request_census.hpp>
#include <host/status/host_state.hpp>

namespace fcgihost::host {

// A request served inside a worker process rather than the host: what it
// knows of its place (see host/worker/worker_main.cpp).
struct worker_place {
  std::string plugin;             // requests name only the handler
  runners::run_order* run_order;  // handlers run one at a time, in order
};

struct request_context : host_state {
  std::shared_ptr<spdlog::logger> log;
  // Where access lines go (the log itself unless they are JSON: see logging.hpp).
  std::shared_ptr<spdlog::logger> access_log;
  std::atomic<std::shared_ptr<const host_config>> config;
  // The host's own answers (ping, status page) take none of --max-requests'
  // slots but one of these, so that a client that never reads cannot make it
  // hold status pages without bound.
  static constexpr std::size_t host_answers_at_once = 64;
  std::atomic<std::size_t> host_answers{0};
  // Warnings for refused requests, at most 10 a second.
  log_throttle refused_requests_log;
  // Lists the requests in flight for the status page's full view.
  const request_census* census = nullptr;
  // Set in a worker process only.
  const worker_place* in_worker = nullptr;

  std::shared_ptr<const host_config> settings() const { return config.load(); }
};

}  // namespace fcgihost::host
