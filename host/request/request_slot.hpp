// One of the --max-requests slots of the host, held while a request runs
// and given back however it ends: no path can leak one.
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace fcgihost::host {

class request_slot {
 public:
  request_slot() = default;
  // Takes a slot if fewer than `limit` are taken; check with held().
  request_slot(std::atomic<std::size_t>& taken, std::size_t limit) {
    if (taken.fetch_add(1) < limit) {
      taken_ = &taken;
    } else {
      --taken;
    }
  }
  request_slot(request_slot&& other) noexcept : taken_(std::exchange(other.taken_, nullptr)) {}
  request_slot& operator=(request_slot&& other) noexcept {
    if (this != &other) {
      release();
      taken_ = std::exchange(other.taken_, nullptr);
    }
    return *this;
  }
  ~request_slot() { release(); }

  bool held() const { return taken_ != nullptr; }
  void release() {
    if (taken_) --*std::exchange(taken_, nullptr);
  }

 private:
  std::atomic<std::size_t>* taken_ = nullptr;
};

}  // namespace fcgihost::host
