// The load as an event loop: one loop driving its share of the connections, each
// keeping up to `depth` requests in flight. Requests are encoded once per
// request id and written in one batch; responses are decoded in place (no
// copies), so the generator costs the server's machine little.
#pragma once

#include <cstddef>
#include <memory>

#include "bench_options.hpp"
#include "bench_results.hpp"
#include "shared_budget.hpp"

namespace fcgihost::bench {

class load_generator {
 public:
  // `connections` of this loop, each with `depth` requests in flight.
  load_generator(const bench_options& options, shared_budget& budget, std::size_t connections, std::size_t depth);
  ~load_generator();
  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  // Runs until the budget is spent (and the last responses are in) or the
  // deadline passes.
  void run();
  const bench_results& results() const { return results_; }

 private:
  struct engine;
  std::unique_ptr<engine> engine_;
  bench_results results_;
};

}  // namespace fcgihost::bench
