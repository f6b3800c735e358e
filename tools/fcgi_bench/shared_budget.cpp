#include "shared_budget.hpp"

namespace fcgihost::bench {

using clock = std::chrono::steady_clock;

shared_budget::shared_budget(std::optional<std::uint64_t> requests, std::optional<std::chrono::milliseconds> duration)
    : remaining_(requests ? static_cast<std::int64_t>(*requests) : 0),
      limited_(requests.has_value()),
      deadline_(duration ? clock::now() + *duration : clock::time_point::max()) {}

bool shared_budget::take() {
  if (stopping_) return false;
  if (limited_) return remaining_.fetch_sub(1, std::memory_order_relaxed) > 0;
  return clock::now() < deadline_;
}

void shared_budget::note_connect_failure(const std::string& why) {
  std::lock_guard lock(mutex_);
  connect_failure_ = why;
}

std::string shared_budget::connect_failure() const {
  std::lock_guard lock(mutex_);
  return connect_failure_;
}

}  // namespace fcgihost::bench
