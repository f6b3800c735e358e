// The worker processes of one version of one plugin, php-fpm style: a
// dynamic pool (started on demand up to `max_workers`, at least `min_idle`
// kept spare, idle ones leaving after `idle_timeout`) or a static one (all
// started at once and kept). Each worker runs one request at a time, so a
// crash costs only that request. Requests wait in order of arrival in a
// bounded queue while every worker is busy; their deadlines run meanwhile.
//
// A worker whose request was stopped (timeout, abort) is condemned: it
// leaves the pool's count at once, so a fresh one can take its place, drops
// to idle CPU priority, and leaves when its handler returns, or is killed
// if it has not within the kill grace. A version replaced by a newer file is retired: its idle
// workers leave now, busy ones when their requests end.
//
// Thread-safe: requests on any strand lease workers; the pool's own work
// (starting, sweeping) runs on its strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_set>
#include <string>
#include <vector>

#include "worker_process.hpp"

namespace fcgihost::runners {

struct worker_pool_settings {
  bool fixed_size = false;  // "static": max_workers started at once and kept
  std::size_t max_workers = 64;
  std::size_t min_idle = 1;
  std::chrono::milliseconds idle_timeout{10'000};
  std::size_t max_queue = 1024;
  std::size_t max_requests_per_worker = 0;  // 0: no limit
  std::uint64_t max_memory_per_worker = 0;  // RSS after a request, bytes; 0: no limit
  std::chrono::milliseconds kill_grace{3000};
  std::vector<std::string> worker_arguments;  // passed on to `fcgi-host --worker`
  // Workers run below the host, whose work per request is small and whose
  // timers are the deadlines: busy handlers never starve it.
  int nice = 10;
};

// What all pools share: the log and the count of condemned workers.
struct worker_supervision {
  std::shared_ptr<spdlog::logger> log;
  std::atomic<std::size_t> condemned{0};
  std::size_t max_condemned = 64;
};

struct worker_slot;
class worker_pool;

// A worker lent to one request. Dropped without finished() or
// condemned(), the worker is taken to be broken and is killed.
class worker_lease {
 public:
  worker_lease() = default;
  worker_lease(std::shared_ptr<worker_pool> pool, std::shared_ptr<worker_slot> slot);
  worker_lease(worker_lease&&) noexcept = default;
  worker_lease& operator=(worker_lease&&) noexcept;
  ~worker_lease();

  worker_process& process();
  // A read buffer that lives with the worker, so that no request allocates one.
  std::string& read_buffer();
  const std::string& plugin() const;
  // The request ended with END_REQUEST: the worker is free again (or, if it
  // was condemned, it leaves: see worker_pool).
  void finished();
  // The request ended before it used the worker.
  void unused();
  // The request was stopped: the worker runs on (see worker_pool) until its
  // handler returns (finished()) or it is killed.
  void condemn();

 private:
  void give_up();
  std::shared_ptr<worker_pool> pool_;
  std::shared_ptr<worker_slot> slot_;
  bool condemned_ = false;
  bool freed_ = false;  // condemned, and out of its pool's count
};

struct lease_result {
  std::optional<worker_lease> lease;
  // Without a lease: 404 (no such handler), 500 (the plugin cannot be
  // loaded), 503 (no worker can start), or 0 for OVERLOADED.
  int refusal_status = 0;
  std::string reason;
};

class worker_pool : public std::enable_shared_from_this<worker_pool> {
 public:
  // `spawner`: where workers are started (posix_spawn waits for the exec,
  // which on a busy machine takes long): never an I/O thread.
  worker_pool(boost::asio::any_io_executor executor, boost::asio::any_io_executor spawner, std::string plugin,
              std::uint64_t version,
              std::shared_ptr<const void> keep_copy, std::filesystem::path plugin_copy, worker_pool_settings settings,
              std::shared_ptr<worker_supervision> supervision);
  ~worker_pool();

  // Starts the static pool's workers, or the dynamic pool's spare ones.
  void open();
  // A worker for `handler`, or why not. Cancellable: a request that ends
  // while it waits leaves the queue. `deadline`: when the request times out.
  boost::asio::awaitable<lease_result> acquire(std::string handler, std::chrono::steady_clock::time_point deadline);
  // A newer version serves from now on.
  void retire();
  // The host is stopping: every worker is killed.
  void shut_down();

  std::uint64_t version() const { return version_; }
  const std::string& plugin() const { return plugin_; }
  std::chrono::milliseconds kill_grace() const { return settings_.kill_grace; }

 private:
  friend class worker_lease;
  struct waiter;

  void start_workers_locked(std::size_t wanted);
  // A worker left the count: one starts for whoever waits, or to keep a static pool full.
  void replace_worker_locked();
  // Whether a worker about to start is still wanted: by a request that will
  // not have timed out before it is ready, or as a spare.
  bool start_still_needed_locked() const;
  boost::asio::awaitable<void> start_worker();
  struct handshake_result {
    bool answered = false;
    std::string handlers;    // comma-separated
    std::string load_error;  // the worker cannot load the plugin: why
    std::string failure;     // no answer: what went wrong
  };
  // GET_VALUES: the worker answers once its plugin is loaded.
  boost::asio::awaitable<handshake_result> handshake(worker_process& process);
  void hand_over_locked(std::shared_ptr<worker_slot> slot);
  void deliver(std::shared_ptr<waiter> to, std::shared_ptr<worker_slot> slot);
  void refuse_waiters_locked(int status, const std::string& reason);
  void leave_queue(const std::shared_ptr<waiter>& who);
  void stop_worker(std::shared_ptr<worker_slot> slot, std::string why);
  boost::asio::awaitable<void> sweep_idle();
  // While requests wait: starts a worker for each that has waited longer
  // than a quick handler's run (see worker_pool.cpp).
  boost::asio::awaitable<void> grow_while_waiting();
  // From a lease.
  void lease_finished(std::shared_ptr<worker_slot> slot);
  // `out_of_count`: it was condemned and had left the pool's count.
  void lease_broken(std::shared_ptr<worker_slot> slot, bool out_of_count);
  // A worker a request received but did not use.
  void return_unused(std::shared_ptr<worker_slot> slot);
  // Whether it leaves the pool's count (false past the condemned cap).
  bool lease_condemned(std::shared_ptr<worker_slot> slot);
  void lease_returned_after_stop(std::shared_ptr<worker_slot> slot, bool out_of_count);
  // Crashes in the last minute delay the next start (a crash loop backs off).
  std::chrono::milliseconds start_delay_locked();

  const boost::asio::any_io_executor executor_;  // a strand
  const boost::asio::any_io_executor spawner_;
  const std::string plugin_;
  const std::uint64_t version_;
  const std::shared_ptr<const void> keep_copy_;  // the copy stays on disk while workers may start
  const std::filesystem::path plugin_copy_;
  const worker_pool_settings settings_;
  const std::shared_ptr<worker_supervision> supervision_;

  std::mutex mutex_;
  std::vector<std::shared_ptr<worker_slot>> idle_;
  std::size_t live_ = 0;      // starting, idle and busy (not condemned)
  std::size_t starting_ = 0;
  std::deque<std::shared_ptr<waiter>> waiters_;
  std::optional<std::set<std::string, std::less<>>> handlers_;
  std::optional<std::string> broken_;  // the plugin cannot be loaded: why
  std::deque<std::chrono::steady_clock::time_point> recent_crashes_;
  bool retired_ = false;
  bool sweeping_ = false;
  bool growing_ = false;
  // Microseconds a request held a worker, on average (see lease_finished),
  // and the workers held now, to tell quick handlers from slow ones.
  std::atomic<std::int64_t> average_hold_us_{0};
  std::unordered_set<const worker_slot*> busy_;
  // Whether the handlers hold their workers only briefly (under the mutex).
  bool handlers_quick_locked() const;
};

}  // namespace fcgihost::runners
