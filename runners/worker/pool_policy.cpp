#include "pool_policy.hpp"

#include <algorithm>

namespace fcgihost::runners {

namespace {

std::int64_t microseconds(pool_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

}  // namespace

// --- handler_timings ---------------------------------------------------------

void handler_timings::ran(std::string_view handler, std::int64_t held_us) {
  average_hold_us_ += (held_us - average_hold_us_) / 16;
  auto found = by_handler_.find(handler);
  if (found == by_handler_.end()) found = by_handler_.emplace(std::string(handler), timing{}).first;
  auto& handler_time = found->second;
  // The mean of its first runs, then a moving average over about the last
  // 16: a cold first run (page faults, lazy binding) is soon outweighed.
  ++handler_time.runs;
  handler_time.average_us +=
      (held_us - handler_time.average_us) / static_cast<std::int64_t>(std::min<std::size_t>(handler_time.runs, 16));
}

bool handler_timings::quick(std::string_view handler) const {
  const auto found = by_handler_.find(handler);
  return found != by_handler_.end() && found->second.runs >= proven_after_runs &&
         found->second.average_us < microseconds(quick_run);
}

bool handler_timings::holds_short() const { return average_hold_us_ < microseconds(grow_after); }

bool handler_timings::all_quick(pool_clock::duration longest_hold) const {
  return holds_short() && longest_hold < long_hold;
}

// --- crash_backoff -----------------------------------------------------------

void crash_backoff::forget_before(pool_clock::time_point now) {
  while (!crashes_.empty() && now - crashes_.front() > window) crashes_.pop_front();
}

std::size_t crash_backoff::recent(pool_clock::time_point now) {
  forget_before(now);
  return crashes_.size();
}

std::chrono::milliseconds crash_backoff::delay(pool_clock::time_point now) {
  const std::size_t crashes = recent(now);
  if (crashes < crashes_before_backoff) return std::chrono::milliseconds(0);
  const auto doublings = std::min<std::size_t>(crashes - crashes_before_backoff, 6);
  return std::min(most_delay, std::chrono::milliseconds(100 << doublings));
}

// --- pool_policy -------------------------------------------------------------

std::size_t pool_policy::begin_starts(std::size_t target) {
  std::size_t begun = 0;
  while (starting_ < target && live_ < limits_.max_workers) {
    ++starting_;
    ++live_;
    ++begun;
  }
  return begun;
}

void pool_policy::start_ended(bool started) {
  --starting_;
  if (!started) --live_;
}

std::size_t pool_policy::quick_cap() const { return std::min(limits_.max_workers, limits_.quick_pool_size); }

std::size_t pool_policy::at_open() const {
  return limits_.fixed_size ? limits_.max_workers : std::max<std::size_t>(limits_.min_idle, 1);
}

std::optional<std::size_t> pool_policy::for_new_waiter(std::size_t waiters) const {
  if (limits_.fixed_size || live_ == 0) return std::min(waiters, limits_.max_workers);
  return std::nullopt;
}

std::size_t pool_policy::after_idle_lent(std::size_t idle_left, bool pipelinable, bool quick) const {
  if (limits_.fixed_size || idle_left + starting_ >= limits_.min_idle) return 0;
  if (pipelinable && quick && live_ >= quick_cap()) return 0;
  return limits_.min_idle - idle_left;
}

std::size_t pool_policy::after_pipelined() const {
  return !limits_.fixed_size && starting_ == 0 && live_ < quick_cap() ? 1 : 0;
}

std::size_t pool_policy::to_replace(std::size_t waiters, bool handlers_quick) const {
  const std::size_t most = handlers_quick ? quick_cap() : limits_.max_workers;
  if (waiters > 0 && live_ < most) return std::min(waiters, most - live_ + starting_);
  if (limits_.fixed_size) return limits_.max_workers;
  return 0;
}

std::size_t pool_policy::after_recycled(std::size_t waiters) const {
  return limits_.fixed_size ? limits_.max_workers - live_ + starting_ : std::max(waiters, limits_.min_idle);
}

std::size_t pool_policy::grow_by(std::size_t long_waiting, bool handlers_quick) const {
  const std::size_t most = handlers_quick ? quick_cap() : limits_.max_workers;
  if (long_waiting == 0 || live_ >= most) return 0;
  return std::min(long_waiting, most - live_ + starting_);
}

bool pool_policy::start_still_needed(bool waited_for, bool for_lined_up, std::size_t idle, bool retired) const {
  if (limits_.fixed_size || retired || for_lined_up) return true;
  // A start after_pipelined began is always kept: dropped because a spare
  // sat idle, it was begun again by the next quick request sent to a busy
  // worker (a round trip to the spawner thread per request), and the pool
  // never grew to quick_pool_size. Otherwise, not counting the start in question:
  return waited_for || idle + starting_ - 1 < limits_.min_idle;
}

bool pool_policy::overloaded(std::size_t waiters, bool condemned_cap_reached) const {
  return waiters >= limits_.max_queue || (condemned_cap_reached && live_ >= limits_.max_workers);
}

bool pool_policy::takes_more(const worker_load& worker, pool_clock::time_point now) const {
  // Behind quick requests only, and not behind one that has run for long:
  // a request sent to a worker waits for the ones before it there. Nor past
  // what it may serve before it is recycled.
  if (limits_.max_requests_per_worker > 0 && worker.served + worker.in_flight >= limits_.max_requests_per_worker)
    return false;
  return worker.available && worker.in_flight < limits_.pipeline && worker.slow_in_flight == 0 &&
         now - worker.front_since < pipeline_behind_at_most;
}

bool pool_policy::idle_surplus(std::size_t idle, pool_clock::duration idle_for) const {
  return idle > limits_.min_idle && idle_for >= limits_.idle_timeout;
}

}  // namespace fcgihost::runners
