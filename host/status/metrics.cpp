#include "metrics.hpp"

#include <algorithm>

#include <host/config/config.hpp>

namespace fcgihost::host {

std::size_t this_thread_shard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % metric_shards;
  return mine;
}

void route_metrics::count(request_outcome outcome, int status, std::chrono::microseconds elapsed, std::uint64_t in,
                          std::uint64_t out) {
  constexpr auto relaxed = std::memory_order_relaxed;
  auto& mine = shards_[this_thread_shard()];
  mine.outcomes[static_cast<std::size_t>(outcome)].fetch_add(1, relaxed);
  mine.statuses[status_class_of(status)].fetch_add(1, relaxed);
  const double seconds = static_cast<double>(elapsed.count()) / 1e6;
  const auto bucket = std::lower_bound(latency_bounds.begin(), latency_bounds.end(), seconds) - latency_bounds.begin();
  mine.buckets[static_cast<std::size_t>(bucket)].fetch_add(1, relaxed);
  mine.microseconds_sum.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(elapsed.count(), 0)), relaxed);
  if (in > 0) mine.bytes_in.fetch_add(in, relaxed);
  mine.bytes_out.fetch_add(out, relaxed);
}

std::uint64_t route_metrics::snapshot::requests() const {
  std::uint64_t total = 0;
  for (const auto n : outcomes) total += n;
  return total;
}

route_metrics::snapshot route_metrics::read() const {
  constexpr auto relaxed = std::memory_order_relaxed;
  snapshot taken;
  taken.name = name_;
  std::uint64_t microseconds = 0;
  for (const auto& each : shards_) {
    for (std::size_t i = 0; i < each.outcomes.size(); ++i) taken.outcomes[i] += each.outcomes[i].load(relaxed);
    for (std::size_t i = 0; i < each.statuses.size(); ++i) taken.statuses[i] += each.statuses[i].load(relaxed);
    for (std::size_t i = 0; i < each.buckets.size(); ++i) taken.buckets[i] += each.buckets[i].load(relaxed);
    microseconds += each.microseconds_sum.load(relaxed);
    taken.bytes_in += each.bytes_in.load(relaxed);
    taken.bytes_out += each.bytes_out.load(relaxed);
  }
  taken.seconds_sum = static_cast<double>(microseconds) / 1e6;
  return taken;
}

host_metrics::host_metrics()
    : plugins_(std::make_shared<route_metrics>("(plugins)")),
      scripts_(std::make_shared<route_metrics>("(scripts)")),
      host_(std::make_shared<route_metrics>("(host)")),
      none_(std::make_shared<route_metrics>("(none)")) {}

void host_metrics::attach_routes(host_config& config) {
  std::lock_guard lock(routes_mutex_);
  for (auto& rule : config.routes) {
    auto& kept = configured_[rule.pattern];
    if (!kept) kept = std::make_shared<route_metrics>(rule.pattern);
    rule.metrics = kept;
  }
}

void host_metrics::note_in_flight(std::size_t in_flight) {
  std::size_t most = most_in_flight.load(std::memory_order_relaxed);
  while (in_flight > most && !most_in_flight.compare_exchange_weak(most, in_flight, std::memory_order_relaxed)) {
  }
}

void host_metrics::request_ended(route_metrics& route, request_outcome outcome, int status,
                                 std::chrono::microseconds elapsed, std::uint64_t in, std::uint64_t out) {
  route.count(outcome, status, elapsed, in, out);
}

std::vector<route_metrics::snapshot> host_metrics::read_routes() const {
  std::vector<route_metrics::snapshot> routes{plugins_->read(), scripts_->read(), host_->read(), none_->read()};
  std::lock_guard lock(routes_mutex_);
  for (const auto& [pattern, metrics] : configured_) routes.push_back(metrics->read());
  return routes;
}

}  // namespace fcgihost::host
