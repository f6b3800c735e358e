// Whether a plugin handler takes the fast path: run on the I/O thread that
// read its request instead of on the handler pool (see io_threads). Earned by
// returning quickly, without once waiting for input or for the client, in
// each of its last `needed` runs; lost by one slow run. A run that holds an
// I/O thread past the stall limit all the same puts the handler back on the
// pool, and it must then prove itself over four times as many runs.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace fcgihost::runners {

class handler_speed {
 public:
  handler_speed() = default;
  explicit handler_speed(std::string label) : label_(std::move(label)) {}
  // "plugin.handler", for the log.
  const std::string& label() const { return label_; }

  // A run this short is quick: hello takes about 5 µs.
  static constexpr auto quick_limit = std::chrono::microseconds(200);
  static constexpr std::uint32_t first_needed = 32;
  static constexpr std::uint32_t most_needed = 32 * 1024;

  bool runs_inline() const {
    return streak_.load(std::memory_order_relaxed) >= needed_.load(std::memory_order_relaxed);
  }
  // Whether it has ever read its FCGI_STDIN: then it runs on an I/O thread
  // only once the whole body is in, so that it never waits for it there.
  bool reads_input() const { return reads_input_.load(std::memory_order_relaxed); }
  // After every run, wherever it ran. `waited`: it blocked on input or output.
  void ran(std::chrono::steady_clock::duration took, bool waited, bool read_input) {
    if (read_input && !reads_input_.load(std::memory_order_relaxed)) reads_input_.store(true, std::memory_order_relaxed);
    if (waited || took > quick_limit) {
      if (streak_.load(std::memory_order_relaxed) != 0) streak_.store(0, std::memory_order_relaxed);
      return;
    }
    // Written only while earning: a handler on the fast path costs no shared writes.
    if (streak_.load(std::memory_order_relaxed) < needed_.load(std::memory_order_relaxed))
      streak_.fetch_add(1, std::memory_order_relaxed);
  }
  // A run held an I/O thread past the stall limit.
  void stalled() {
    streak_.store(0, std::memory_order_relaxed);
    const auto needed = needed_.load(std::memory_order_relaxed);
    needed_.store(needed >= most_needed / 4 ? most_needed : needed * 4, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::uint32_t> streak_{0};  // quick runs in a row
  std::atomic<std::uint32_t> needed_{first_needed};
  std::atomic<bool> reads_input_{false};
  std::string label_;
};

}  // namespace fcgihost::runners
