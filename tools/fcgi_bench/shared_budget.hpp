// What all the client threads of a run share: how many requests are left
// to start, when to stop, the running totals for the progress line, and
// the last reason a connection could not be made.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace fcgihost::bench {

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

}  // namespace fcgihost::bench
