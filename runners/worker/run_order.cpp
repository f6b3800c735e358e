#include "run_order.hpp"

namespace fcgihost::runners {

run_order::ticket run_order::take() {
  std::lock_guard lock(mutex_);
  return next_++;
}

bool run_order::when_turn(ticket which, std::function<void()> go) {
  std::lock_guard lock(mutex_);
  if (which == turn_) return true;
  waiting_.emplace(which, std::move(go));
  return false;
}

void run_order::release(ticket which) {
  std::function<void()> go;
  {
    std::lock_guard lock(mutex_);
    waiting_.erase(which);
    if (which != turn_) {
      released_ahead_.insert(which);
      return;
    }
    ++turn_;
    while (released_ahead_.erase(turn_) > 0) ++turn_;
    if (auto next = waiting_.find(turn_); next != waiting_.end()) {
      go = std::move(next->second);
      waiting_.erase(next);
    }
  }
  if (go) go();
}

}  // namespace fcgihost::runners
