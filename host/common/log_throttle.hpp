// At most N lines a second of one kind of warning (refusals under a flood):
// past that they are counted, and the next line logged says how many were
// not. A client that makes the host refuse it 100k times a second must not
// make it write 100k warnings too (its access lines are enough). Lock-free
// and approximate at the edge of a second.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace fcgihost::host {

class log_throttle {
 public:
  explicit log_throttle(unsigned per_second = 10) : per_second_(per_second) {}

  // Whether to log one more now. When it says yes, `not_logged` says how
  // many were held back since the last one logged (" (N more like it not
  // logged)"), or is empty.
  bool allow(std::string& not_logged);
  // The same at a given second of the steady clock (for the tests).
  bool allow_at(std::int64_t second, std::string& not_logged);

 private:
  const unsigned per_second_;
  std::atomic<std::int64_t> second_{0};
  std::atomic<unsigned> this_second_{0};
  std::atomic<std::uint64_t> held_back_{0};
};

}  // namespace fcgihost::host
