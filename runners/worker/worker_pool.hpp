// The worker processes of one version of one plugin, php-fpm style: a
// dynamic pool (started on demand up to `max_workers`, at least `min_idle`
// kept spare, idle ones leaving after `idle_timeout`) or a static one (all
// started at once and kept). Each worker runs one request at a time, so a
// crash costs only that request. Requests of quick handlers whose body is
// all here may be sent to a busy worker, up to `pipeline` at once, to wait
// there instead of in the host (see worker_link: fewer wakeups per request);
// if that worker dies first, they go to another. Other requests wait in
// order of arrival in a bounded queue while every worker is busy; their
// deadlines run meanwhile.
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
#include <boost/asio/steady_timer.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <runners/function/plugin_settings.hpp>
#include <runners/worker/pool_policy.hpp>
#include <runners/worker/worker_link.hpp>
#include <runners/worker/worker_view.hpp>

namespace fcgihost::runners {

struct worker_pool_settings {
  pool_limits limits;  // its size, queue, pipelining and recycling (quick_pool_size: set by the pool)
  std::chrono::milliseconds kill_grace{3000};
  std::vector<std::string> worker_arguments;  // passed on to `fcgi-host --worker`
  plugin_settings plugin_own_settings;        // [plugin.NAME], for its init in each worker
  // Workers run below the host, whose work per request is small and whose
  // timers are the deadlines: busy handlers never starve it.
  int nice = 10;
};

// What all pools share: the log and the count of condemned workers.
// What the pools have done, over all of them (for the status page).
struct worker_counters {
  std::atomic<std::uint64_t> spawned{0};
  std::atomic<std::uint64_t> crashed{0};  // died of a signal the host did not send
  // Left the pool, by why.
  std::atomic<std::uint64_t> recycled_max_requests{0};
  std::atomic<std::uint64_t> recycled_max_memory{0};
  std::atomic<std::uint64_t> left_after_stopped_request{0};
  std::atomic<std::uint64_t> left_plugin_replaced{0};
  std::atomic<std::uint64_t> left_idle{0};
  std::atomic<std::uint64_t> killed_after_stop{0};  // its handler did not return within the kill grace
  // A new version its workers could not load (each version counts once:
  // no worker starts for it again until its file changes).
  std::atomic<std::uint64_t> plugin_load_failures{0};
};

// How the pools stand now.
struct worker_census {
  std::size_t starting = 0;
  std::size_t idle = 0;
  std::size_t busy = 0;
  std::size_t queued = 0;  // requests waiting for a worker
};

struct worker_supervision {
  std::shared_ptr<spdlog::logger> log;
  // Where crash dumps are symbolised: never an I/O thread (the first one
  // reads the host binary's debug info, most of a second).
  boost::asio::any_io_executor symboliser;
  std::atomic<std::size_t> condemned{0};
  std::size_t max_condemned = 64;
  worker_counters counts;
};

struct worker_slot;
class worker_pool;

// A worker lent to one request. Dropped without finished() or unused(),
// the worker is taken to be broken and is killed.
class worker_lease {
 public:
  worker_lease() = default;
  // `counted_slow`: lent for a handler not proven quick (see worker_pool).
  worker_lease(std::shared_ptr<worker_pool> pool, std::shared_ptr<worker_slot> slot, std::string handler,
               bool counted_slow);
  worker_lease(worker_lease&&) noexcept = default;
  worker_lease& operator=(worker_lease&&) noexcept;
  ~worker_lease();

  worker_link& link();
  const std::string& plugin() const;
  // The request ended with END_REQUEST: the worker is free again (or, if it
  // was condemned, it leaves: see worker_pool). `run_us`: how long its
  // handler ran, as the worker measured it (-1: unknown).
  void finished(std::int64_t run_us = -1);
  // The request ended before it used the worker.
  void unused();
  // The request the worker runs was stopped: the worker runs on (see
  // worker_pool) until its handler returns (finished()) or it is killed.
  void condemn();

 private:
  std::shared_ptr<worker_pool> pool_;
  std::shared_ptr<worker_slot> slot_;
  std::string handler_;
  bool counted_slow_ = false;
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
  // Its workers and waiting requests now.
  worker_census census();
  // Each of its started workers (those still starting have no pid yet).
  std::vector<worker_view> describe();
  // The link to its worker `pid` running a request (busy or condemned), or null.
  std::shared_ptr<worker_link> busy_link(int pid);
  // `io`: the host's io_context (the pool and each worker's link get a
  // strand of it). `spawner`: where workers are started (posix_spawn waits
  // for the exec, which on a busy machine takes long): never an I/O thread.
  worker_pool(boost::asio::any_io_executor io, boost::asio::any_io_executor spawner, std::string plugin,
              std::uint64_t version,
              std::shared_ptr<const void> keep_copy, std::filesystem::path plugin_copy, worker_pool_settings settings,
              std::shared_ptr<worker_supervision> supervision);
  ~worker_pool();

  // Starts the static pool's workers, or the dynamic pool's spare ones.
  void open();
  // A worker for `handler`, or why not. Cancellable: a request that ends
  // while it waits leaves the queue. `deadline`: when the request times out.
  // `pipelinable`: its whole body is here (and small), so it may be sent to
  // a busy worker, and again to another if that one dies first.
  boost::asio::awaitable<lease_result> acquire(std::string handler, std::chrono::steady_clock::time_point deadline,
                                               bool pipelinable);
  // acquire() without waiting: its answer when it has one at once (a lease
  // or a refusal), nothing when the request would wait in the queue.
  std::optional<lease_result> try_acquire(std::string handler, bool pipelinable);
  // A newer version serves from now on.
  void retire();
  // The host is stopping: idle workers are asked to leave (returned, for the
  // host to wait for them a moment); busy ones go with their requests.
  std::vector<std::shared_ptr<worker_link>> shut_down();

  std::uint64_t version() const { return version_; }
  const std::string& plugin() const { return plugin_; }

 private:
  friend class worker_lease;
  struct waiter;
  enum class lease_end { finished, unused, broken };

  std::optional<lease_result> lease_now_locked(std::string& handler, bool pipelinable);

  // Starts workers until `target` are starting (see pool_policy::begin_starts).
  // `for_lined_up`: begun for quick requests lined up in busy workers
  // (pool_policy::after_pipelined), so wanted even if they are gone by then.
  void start_workers_locked(std::size_t target, bool for_lined_up = false);
  // A worker left the count: one starts for whoever waits, or to keep a static pool full.
  void replace_worker_locked();
  // Whether a worker about to start is still wanted: by a request that will
  // not have timed out before it is ready, or as a spare.
  bool start_still_needed_locked(bool for_lined_up) const;
  boost::asio::awaitable<void> start_worker(bool for_lined_up);
  struct handshake_result {
    bool answered = false;
    std::string handlers;    // comma-separated
    std::string load_error;  // the worker cannot load the plugin: why
    std::string failure;     // no answer: what went wrong
  };
  // GET_VALUES: the worker answers once its plugin is loaded.
  boost::asio::awaitable<handshake_result> handshake(worker_process& process);
  // An idle worker: to whoever waits, or among the idle ones.
  void hand_over_locked(std::shared_ptr<worker_slot> slot);
  // A busy worker: more waiting requests, while they may be pipelined to it.
  void fill_locked(const std::shared_ptr<worker_slot>& slot);
  void lend_locked(const std::shared_ptr<worker_slot>& slot, bool quick);
  void deliver(std::shared_ptr<waiter> to, std::shared_ptr<worker_slot> slot);
  void refuse_waiters_locked(int status, const std::string& reason);
  void leave_queue(const std::shared_ptr<waiter>& who);
  void stop_replaced_worker(const std::shared_ptr<worker_slot>& slot);
  void stop_worker(const std::shared_ptr<worker_slot>& slot, std::string why);
  boost::asio::awaitable<void> sweep_idle();
  // While requests wait: starts a worker for each that has waited longer
  // than a quick handler's run (see worker_pool.cpp).
  boost::asio::awaitable<void> grow_while_waiting();
  // From a lease.
  void lease_ended(std::shared_ptr<worker_slot> slot, const std::string& handler, bool counted_slow, lease_end how,
                   std::int64_t run_us = -1);
  // It leaves the pool's count (or, past the condemned cap, keeps its place).
  void lease_condemned(const std::shared_ptr<worker_slot>& slot);
  // The worker leaves the pool: it leaves the count (or the condemned one).
  void leave_count_locked(worker_slot& slot);
  // Something the pool's growth depends on changed: grow_while_waiting looks again.
  void wake_growth_locked();
  void erase_busy_locked(const worker_slot* slot);
  // What pool_policy reads of a worker.
  worker_load load_of(const worker_slot& slot) const;
  bool takes_more_locked(const worker_slot& slot) const;
  // Whether the handlers hold their workers only briefly (see handler_timings).
  bool handlers_quick_locked() const;

  const boost::asio::any_io_executor io_;
  const boost::asio::any_io_executor executor_;  // a strand of io_
  const boost::asio::any_io_executor spawner_;
  const std::string plugin_;
  const std::uint64_t version_;
  const std::shared_ptr<const void> keep_copy_;  // the copy stays on disk while workers may start
  const std::filesystem::path plugin_copy_;
  const worker_pool_settings settings_;
  const std::shared_ptr<worker_supervision> supervision_;

  std::mutex mutex_;  // guards what follows
  pool_policy policy_;  // the count of live and starting workers, and every decision
  handler_timings timings_;
  crash_backoff backoff_;
  std::vector<std::shared_ptr<worker_slot>> idle_;
  std::vector<std::shared_ptr<worker_slot>> busy_;  // running requests, not condemned
  std::vector<std::weak_ptr<worker_slot>> condemned_;  // until gone, for describe()
  std::deque<std::shared_ptr<waiter>> waiters_;
  std::optional<std::set<std::string, std::less<>>> handlers_;
  std::optional<std::string> broken_;  // the plugin cannot be loaded: why
  bool retired_ = false;
  bool sweeping_ = false;
  bool growing_ = false;
  // grow_while_waiting sleeps on it until what it decides on may have
  // changed: a waiter's wait passing grow_after, or an event (wake_growth_locked).
  boost::asio::steady_timer grow_timer_;
  std::chrono::steady_clock::time_point grow_wake_at_ = std::chrono::steady_clock::time_point::max();  // grow_timer_'s
};

}  // namespace fcgihost::runners
