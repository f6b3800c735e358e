// Tells whoever waits for the host to go quiet (the drain) that a request
// or a connection ended, so the wait is woken by the ends themselves instead
// of looking at the counts now and then. Costs one relaxed-ordered load per
// end until a waiter is set.
#pragma once

#include <atomic>
#include <functional>
#include <utility>

namespace fcgihost::host {

class quiet_watch {
 public:
  // Once, before the wait begins; `woken` is called from any thread.
  void set(std::function<void()> woken) {
    woken_ = std::move(woken);
    armed_.store(true, std::memory_order_release);
  }
  // No one waits any more (the waiter is going away).
  void clear() { armed_.store(false, std::memory_order_release); }
  void ended_one() const {
    if (armed_.load(std::memory_order_acquire)) woken_();
  }

 private:
  std::function<void()> woken_;
  std::atomic<bool> armed_{false};
};

}  // namespace fcgihost::host
