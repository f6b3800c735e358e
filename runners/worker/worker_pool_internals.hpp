// What the files of the worker pool share (worker_pool.cpp: the queue and
// the leases; worker_start.cpp: starting workers; worker_lease.cpp;
// worker_pool_upkeep.cpp: sweeping, growing, retiring and what the status
// page sees). Not for use outside them.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/channel.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <runners/worker/worker_pool.hpp>

namespace fcgihost::runners {

struct worker_slot {
  std::shared_ptr<worker_link> link;  // set once it has started
  const std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  std::size_t served = 0;
  // Under the pool's mutex:
  std::size_t in_flight = 0;       // requests sent to it and not ended
  std::size_t slow_in_flight = 0;  // of those, of handlers not proven quick
  std::chrono::steady_clock::time_point idle_since = std::chrono::steady_clock::now();
  // When the request it runs now began.
  std::chrono::steady_clock::time_point front_since = std::chrono::steady_clock::now();
  bool condemned = false;     // a request it ran was stopped: it leaves when it is free
  bool out_of_count = false;  // condemned, and out of the pool's count (see lease_condemned)
  std::string leaving;        // why it leaves when it is free (recycled)
  std::atomic<std::uint64_t>* leaving_counter = nullptr;  // the figure its leaving counts in
  bool gone = false;          // it left the pool
};

struct worker_pool::waiter {
  explicit waiter(boost::asio::any_io_executor on) : executor(on), channel(on, 1) {}
  boost::asio::any_io_executor executor;
  boost::asio::experimental::channel<void(boost::system::error_code, std::shared_ptr<worker_slot>)> channel;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now();
  std::string handler;
  bool pipelinable = false;
  bool quick = false;
  bool left = false;  // under the pool's mutex
  int refusal_status = 0;
  std::string refusal;  // set before the channel is closed without a worker
};

// How often idle workers are looked at (spares past their idle timeout, and
// workers that died while idle).
inline constexpr auto sweep_interval = std::chrono::seconds(1);

}  // namespace fcgihost::runners
