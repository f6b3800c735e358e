// The load as the plainest C client makes it: a thread per connection,
// blocking calls, one request at a time. Each request costs a write and a
// read, nothing in between; an event loop adds a speculative read that finds
// nothing, an epoll round and its own bookkeeping, which is most of the cost
// of a request when the server answers in a few microseconds.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "bench_options.hpp"
#include "bench_results.hpp"
#include "blocking_connector.hpp"
#include "shared_budget.hpp"

namespace fcgihost::bench {

// Whether blocking clients make the run: as --engine says, and for auto when
// they can and are the faster choice. They can at depth 1 without a body (a
// client blocked writing a body could never read the answer a server streams
// back meanwhile). They are faster while each client has a core to wait on:
// beyond that, one event loop serving many sockets per wake-up wins.
bool use_blocking_clients(const bench_options& options, std::size_t depth);

class blocking_clients {
 public:
  blocking_clients(const bench_options& options, shared_budget& budget);
  ~blocking_clients();
  blocking_clients(const blocking_clients&) = delete;
  blocking_clients& operator=(const blocking_clients&) = delete;

  // Runs a thread per connection until the budget is spent or the deadline
  // passes, while this thread interrupts requests past --timeout (counted)
  // and, at the deadline, those still in flight (not counted, as wrk does).
  void run();
  // Every thread's counts, merged.
  bench_results results() const;

 private:
  struct client;

  void drive(client& self);
  int connect_once();
  bool exchange(int fd, client& self, char* buffer);
  bool may_go_on(client& self, std::chrono::steady_clock::time_point started);
  void watch();

  const bench_options& options_;
  shared_budget& budget_;
  const std::string request_head_;
  const blocking_connector connector_;
  std::vector<std::unique_ptr<client>> clients_;
  // The watching thread sleeps on this between checks, and wakes early when
  // the last client finishes.
  std::mutex mutex_;
  std::condition_variable finished_;
  std::size_t running_ = 0;
};

}  // namespace fcgihost::bench
