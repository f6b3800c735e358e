// In a worker process: its requests run one at a time, in the order they
// arrived. The host relies on it (see worker_link): when a worker dies, the
// oldest request it had not ended is the one it was running, and the ones
// behind it never began, so they can safely go to another worker.
//
// A request takes a ticket when it arrives and releases it when its handler
// has returned, or when it ends without running; a handler starts only when
// every earlier ticket is released. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>

namespace fcgihost::runners {

class run_order {
 public:
  using ticket = std::uint64_t;

  ticket take();
  // True if it is the ticket's turn now; otherwise `go` is called (from
  // the thread releasing the ticket before it) when its turn comes.
  bool when_turn(ticket which, std::function<void()> go);
  // Done with the ticket (run or not). Once per ticket.
  void release(ticket which);

 private:
  std::mutex mutex_;
  ticket next_ = 0;
  ticket turn_ = 0;
  std::set<ticket> released_ahead_;  // released before their turn
  std::map<ticket, std::function<void()>> waiting_;
};

}  // namespace fcgihost::runners
