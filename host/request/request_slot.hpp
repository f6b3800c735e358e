// One of the --max-requests slots of the host, held while a request runs
// and given back however it ends: no path can leak one.
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

#include <host/common/quiet_watch.hpp>

namespace fcgihost::host {

class request_slot {
 public:
  request_slot() = default;
  // Takes a slot if fewer than `limit` are taken; check with held().
  // `watch`: told when the slot is given back.
  request_slot(std::atomic<std::size_t>& taken, std::size_t limit, const quiet_watch* watch = nullptr) {
    if (taken.fetch_add(1) < limit) {
      taken_ = &taken;
      watch_ = watch;
    } else {
      --taken;
    }
  }
  request_slot(request_slot&& other) noexcept
      : taken_(std::exchange(other.taken_, nullptr)), watch_(std::exchange(other.watch_, nullptr)) {}
  request_slot& operator=(request_slot&& other) noexcept {
    if (this != &other) {
      release();
      taken_ = std::exchange(other.taken_, nullptr);
      watch_ = std::exchange(other.watch_, nullptr);
    }
    return *this;
  }
  ~request_slot() { release(); }

  bool held() const { return taken_ != nullptr; }
  void release() {
    if (!taken_) return;
    --*std::exchange(taken_, nullptr);
    if (watch_) std::exchange(watch_, nullptr)->ended_one();
  }

 private:
  std::atomic<std::size_t>* taken_ = nullptr;
  const quiet_watch* watch_ = nullptr;
};

}  // namespace fcgihost::host
