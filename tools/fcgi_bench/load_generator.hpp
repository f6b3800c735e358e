// The load itself: one event loop driving its share of the connections, each
// keeping up to `depth` requests in flight. Requests are encoded once per
// request id and written in one batch; responses are decoded in place (no
// copies), so the generator costs the server's machine little.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "bench_options.hpp"
#include "bench_results.hpp"

namespace fcgihost::bench {

// What all event loops share: how many requests are left to start, when to
// stop, and the running totals for the progress line.
class shared_budget {
 public:
  shared_budget(std::optional<std::uint64_t> requests, std::optional<std::chrono::milliseconds> duration);

  // True when one more request may start (and takes it).
  bool take();
  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }
  std::chrono::steady_clock::time_point deadline() const { return deadline_; }

  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};

  void note_connect_failure(const std::string& why);
  std::string connect_failure() const;

 private:
  std::atomic<std::int64_t> remaining_;
  const bool limited_;
  const std::chrono::steady_clock::time_point deadline_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::string connect_failure_;
};

class load_generator {
 public:
  // `connections` of this loop, each with `depth` requests in flight.
  load_generator(const bench_options& options, shared_budget& budget, std::size_t connections, std::size_t depth);
  ~load_generator();
  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  // Runs until the budget is spent (and the last responses are in) or the
  // deadline passes.
  void run();
  const bench_results& results() const { return results_; }

 private:
  struct engine;
  std::unique_ptr<engine> engine_;
  bench_results results_;
};

}  // namespace fcgihost::bench
