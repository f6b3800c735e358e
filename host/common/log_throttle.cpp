#include "log_throttle.hpp"

#include <chrono>

namespace fcgihost::host {

bool log_throttle::allow(std::string& not_logged) {
  return allow_at(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count(),
      not_logged);
}

bool log_throttle::allow_at(std::int64_t now, std::string& not_logged) {
  auto second = second_.load(std::memory_order_relaxed);
  if (now != second && second_.compare_exchange_strong(second, now)) this_second_.store(0);
  if (this_second_.fetch_add(1, std::memory_order_relaxed) >= per_second_) {
    held_back_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const auto held = held_back_.exchange(0);
  not_logged = held == 0 ? std::string() : " (" + std::to_string(held) + " more like it not logged)";
  return true;
}

}  // namespace fcgihost::host
