// What the status page and metrics read of the host: its counters and its
// runners. The request layer adds what requests share (request_context.hpp),
// the transport what connections share (host_context.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <runners/function/function_runner.hpp>
#include <runners/script/script_runner.hpp>
#include <runners/worker/worker_runner.hpp>

#include <host/common/quiet_watch.hpp>
#include <host/status/metrics.hpp>

namespace fcgihost::host {

struct host_state {
  host_metrics metrics;
  std::atomic<std::size_t> open_connections{0};
  std::atomic<std::size_t> active_requests{0};
  std::atomic<std::uint64_t> requests_begun{0};  // ever, for telling when the host is idle
  std::atomic<bool> draining{false};
  quiet_watch quiet;  // a request slot given back, a connection closed
  runners::function_runner* functions = nullptr;
  runners::script_runner* scripts = nullptr;
  runners::worker_runner* workers = nullptr;  // isolation = "process"
  const runners::plugin_counters* in_process_plugins = nullptr;  // the catalog's, isolation = "none"
};

}  // namespace fcgihost::host
