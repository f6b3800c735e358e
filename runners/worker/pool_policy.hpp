// What a worker pool decides, apart from how it does it: how many workers
// to start and when, which worker may take one more request, when a worker
// is recycled, when an idle one leaves, how long a crash loop waits, and
// which handlers are quick. Pure: no Asio, no processes, no lock, no clock
// of its own (every decision takes `now`), so each rule is unit-tested
// alone (tests/unit/pool_policy_test.cpp). worker_pool holds one under its
// mutex and does what it says.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fcgihost::runners {

using pool_clock = std::chrono::steady_clock;

struct pool_limits {
  bool fixed_size = false;  // "static": max_workers started at once and kept
  std::size_t max_workers = 64;
  std::size_t min_idle = 1;
  std::chrono::milliseconds idle_timeout{10'000};
  std::size_t max_queue = 1024;
  std::size_t pipeline = 8;                  // requests sent to one worker at once
  std::size_t max_requests_per_worker = 0;  // 0: no limit
  std::uint64_t max_memory_per_worker = 0;  // RSS after a request, bytes; 0: no limit
  // Enough workers to keep every core busy with quick handlers: more would
  // only take turns (hello at 64 in flight: 12k requests/s with 2 workers,
  // 5k with 39).
  std::size_t quick_pool_size = 3;
};

// What the policy reads of one worker.
struct worker_load {
  std::size_t served = 0;
  std::size_t in_flight = 0;       // requests sent to it and not ended
  std::size_t slow_in_flight = 0;  // of those, of handlers not proven quick
  pool_clock::time_point front_since{};  // when the request it runs now began
  bool available = true;  // not gone, condemned, leaving or dead
};

// How long each handler runs, as the workers measure it: a handler is quick
// once its first runs averaged under `quick_run`; the pool as a whole is
// quick while the average hold is short and no worker is held for long.
class handler_timings {
 public:
  static constexpr std::size_t proven_after_runs = 4;
  static constexpr auto quick_run = std::chrono::milliseconds(2);
  // Requests that wait this long make a dynamic pool grow (see grow_by).
  static constexpr auto grow_after = std::chrono::milliseconds(3);
  // A worker held this long means the handlers are not quick, whatever the
  // average of those that returned says.
  static constexpr auto long_hold = std::chrono::milliseconds(200);

  void ran(std::string_view handler, std::int64_t held_us);
  // Never a handler not yet seen: a burst of requests for a slow one would
  // queue in one worker instead of running side by side.
  bool quick(std::string_view handler) const;
  // `longest_hold`: how long the longest-held busy worker has been held now.
  bool all_quick(pool_clock::duration longest_hold) const;
  // The average hold alone is short (else all_quick is false whatever the busy workers).
  bool holds_short() const;

 private:
  struct timing {
    std::int64_t average_us = 0;  // the mean of the first 16 runs, then a moving average
    std::size_t runs = 0;
  };
  std::map<std::string, timing, std::less<>> by_handler_;
  std::int64_t average_hold_us_ = 0;  // over every handler, a moving average of about 16
};

// Crashes in the last minute delay the next start: a crash loop backs off,
// doubling from 100 ms after the third, up to 5 s.
class crash_backoff {
 public:
  static constexpr auto window = std::chrono::seconds(60);
  static constexpr std::size_t crashes_before_backoff = 3;
  static constexpr auto most_delay = std::chrono::milliseconds(5000);

  void crashed(pool_clock::time_point now) { crashes_.push_back(now); }
  std::chrono::milliseconds delay(pool_clock::time_point now);
  std::size_t recent(pool_clock::time_point now);

 private:
  void forget_before(pool_clock::time_point now);
  std::deque<pool_clock::time_point> crashes_;
};

// Why a worker that just finished a request leaves now, and which figure its
// leaving counts in.
struct recycling {
  enum class cause { max_requests, max_memory };
  cause why;
  std::string text;
};

class pool_policy {
 public:
  // A worker is still wanted this long before a waiting request's deadline:
  // a worker takes a few milliseconds to be ready, more on a busy machine.
  static constexpr auto ready_within = std::chrono::milliseconds(50);
  // Nothing more is sent to a worker whose current request has run this long.
  static constexpr auto pipeline_behind_at_most = std::chrono::milliseconds(20);

  explicit pool_policy(pool_limits limits) : limits_(limits) {}
  const pool_limits& limits() const { return limits_; }

  // --- the count: starting, idle and busy workers (not the condemned) ---
  std::size_t live() const { return live_; }
  std::size_t starting() const { return starting_; }
  // Starts as many as `wanted` at once may be starting, within max_workers;
  // returns how many to start now (counted as starting and live).
  std::size_t begin_starts(std::size_t wanted);
  // A start ended: the worker serves (`started`) or never will.
  void start_ended(bool started);
  // A worker left the count (gone, recycled, condemned out of the count).
  void left_count() { --live_; }

  // --- how many to start ---
  std::size_t at_open() const;
  // A request must wait: workers for the queue, or none (the pool grows
  // while requests wait instead: see grow_by).
  std::optional<std::size_t> for_new_waiter(std::size_t waiters) const;
  // An idle worker was lent: spares to keep min_idle, but for quick
  // pipelinable requests no more than quick_pool_size (busy ones take more).
  std::size_t after_idle_lent(std::size_t idle_left, bool pipelinable, bool quick) const;
  // A quick request went to a busy worker.
  std::size_t after_pipelined() const;
  // A worker left the count: one for whoever waits, or to keep a static pool full.
  std::size_t to_replace(std::size_t waiters, bool handlers_quick) const;
  // A recycled worker left.
  std::size_t after_recycled(std::size_t waiters) const;
  // Requests have waited `long_waiting` of them longer than grow_after.
  std::size_t grow_by(std::size_t long_waiting, bool handlers_quick) const;
  // A start about to begin is still wanted: by a request that will not have
  // timed out before it is ready, as a spare, or always when after_pipelined
  // began it (`for_lined_up`: quick requests lined up in busy workers; it is
  // begun only below quick_pool_size).
  bool start_still_needed(bool waited_for, bool for_lined_up, std::size_t idle, bool retired) const;
  // The latest deadline a waiter may have for a worker starting now to be
  // of no use to it.
  static pool_clock::time_point ready_by(pool_clock::time_point now) { return now + ready_within; }

  // --- requests ---
  // Past the queue, or the host's cap of condemned workers reached with the
  // pool full: OVERLOADED.
  bool overloaded(std::size_t waiters, bool condemned_cap_reached) const;
  // Whether `worker` may take one more request behind those it runs.
  bool takes_more(const worker_load& worker, pool_clock::time_point now) const;
  // Whether a worker that finished a request leaves now; `rss`: read only
  // when a memory limit is set (it is a /proc read).
  template <typename ReadRss>
  std::optional<recycling> recycle_after(std::size_t served_with_this, ReadRss&& rss) const;
  // Whether an idle worker leaves at a sweep.
  bool idle_surplus(std::size_t idle, pool_clock::duration idle_for) const;

 private:
  std::size_t quick_cap() const;
  pool_limits limits_;
  std::size_t live_ = 0;
  std::size_t starting_ = 0;
};

template <typename ReadRss>
std::optional<recycling> pool_policy::recycle_after(std::size_t served_with_this, ReadRss&& rss) const {
  if (limits_.max_requests_per_worker > 0 && served_with_this >= limits_.max_requests_per_worker)
    return recycling{recycling::cause::max_requests,
                     "it served " + std::to_string(served_with_this) + " requests (worker-max-requests)"};
  if (limits_.max_memory_per_worker > 0) {
    const std::uint64_t used = rss();
    if (used > limits_.max_memory_per_worker)
      return recycling{recycling::cause::max_memory, "it uses " + std::to_string(used / 1024) +
                                                         " KiB (worker-max-memory is " +
                                                         std::to_string(limits_.max_memory_per_worker / 1024) + " KiB)"};
  }
  return std::nullopt;
}

}  // namespace fcgihost::runners
