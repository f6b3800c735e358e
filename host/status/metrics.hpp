// The host's figures, for the status page: counters and latency histograms
// kept with relaxed atomics (no lock on the request path), summed when read.
// A request's figures go to its thread's shard, a cache line of its own, so
// that I/O threads counting at once do not take the line from each other.
// Per route: each [[route]] of the config by its pattern, and the defaults
// "(plugins)", "(scripts)", "(host)" and "(none)" (nothing ran: not found,
// refused before a runner was chosen). Labels are never taken from what a
// client sends, so a client cannot make their number grow.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <host/common/close_reason.hpp>
#include <host/common/request_outcome.hpp>

namespace fcgihost::host {

struct host_config;

// Upper bounds of the latency histogram's buckets, in seconds (+Inf after).
inline constexpr std::array<double, 12> latency_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1,    2.5,   10};

inline constexpr std::size_t metric_shards = 8;
// This thread's shard (threads take them in turn as they first count).
std::size_t this_thread_shard();

class route_metrics {
 public:
  explicit route_metrics(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  // A request ended: its outcome, the HTTP status the client got (0: none),
  // how long it took, its body and response bytes.
  void count(request_outcome outcome, int status, std::chrono::microseconds elapsed, std::uint64_t in,
             std::uint64_t out);

  struct snapshot {
    std::string name;
    std::array<std::uint64_t, all_request_outcomes.size()> outcomes{};
    std::array<std::uint64_t, status_classes.size()> statuses{};
    std::array<std::uint64_t, latency_bounds.size() + 1> buckets{};  // not cumulative; the last is +Inf
    double seconds_sum = 0;
    std::uint64_t bytes_in = 0, bytes_out = 0;
    std::uint64_t requests() const;
  };
  snapshot read() const;

 private:
  struct alignas(64) shard {
    std::array<std::atomic<std::uint64_t>, all_request_outcomes.size()> outcomes{};
    std::array<std::atomic<std::uint64_t>, status_classes.size()> statuses{};
    std::array<std::atomic<std::uint64_t>, latency_bounds.size() + 1> buckets{};
    std::atomic<std::uint64_t> microseconds_sum{0};
    std::atomic<std::uint64_t> bytes_in{0};   // request bodies (FCGI_STDIN)
    std::atomic<std::uint64_t> bytes_out{0};  // responses (FCGI_STDOUT)
  };
  const std::string name_;
  std::array<shard, metric_shards> shards_;
};

class host_metrics {
 public:
  host_metrics();

  const std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};  // FCGI_WEB_SERVER_ADDRS, max-connections
  std::atomic<std::uint64_t> connections_evicted{0};
  // Connections closed, by why (close_reason's order).
  std::array<std::atomic<std::uint64_t>, all_close_reasons.size()> connections_closed{};
  void connection_closed(close_reason reason) {
    connections_closed[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<std::size_t> most_in_flight{0};
  std::atomic<std::uint64_t> slow_requests{0};  // passed --slow-threshold while running
  std::atomic<std::uint64_t> reloads{0};          // SIGHUP: the configuration reloaded
  std::atomic<std::uint64_t> reload_failures{0};  // SIGHUP: the old configuration kept
  // In-process handlers: moved off the fast path for holding an I/O thread,
  // and returned long after their request was stopped.
  std::atomic<std::uint64_t> handlers_off_fast_path{0};
  std::atomic<std::uint64_t> handlers_returned_late{0};

  // The route a request ran under: its [[route]] (by pattern), or a default.
  route_metrics& plugins() { return *plugins_; }
  route_metrics& scripts() { return *scripts_; }
  route_metrics& host_answered() { return *host_; }
  route_metrics& nothing_ran() { return *none_; }
  // Gives each [[route]] of `config` its figures, kept across reloads for a
  // pattern that stays. At start and on SIGHUP, before requests see `config`.
  void attach_routes(host_config& config);

  // A request began running: `in_flight` is how many run now.
  void note_in_flight(std::size_t in_flight);
  void request_ended(route_metrics& route, request_outcome outcome, int status, std::chrono::microseconds elapsed,
                     std::uint64_t in, std::uint64_t out);

  std::vector<route_metrics::snapshot> read_routes() const;

 private:
  std::shared_ptr<route_metrics> plugins_, scripts_, host_, none_;
  mutable std::mutex routes_mutex_;  // attach_routes and read_routes only
  std::map<std::string, std::shared_ptr<route_metrics>> configured_;
};

}  // namespace fcgihost::host
