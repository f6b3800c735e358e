// The threads that run the io_context: socket I/O, timers, scripts' pipes,
// and the fast path for handlers (see handler_speed): a handler proven to
// return at once runs right here, on the I/O thread, which saves the two
// hand-offs between threads a pool run costs (hello, 2 cores: see docs/tools.md, "Benchmarks").
//
// Should such a run hold its thread for longer than `stall_limit` after all
// (the handler blocked this once), a watchdog starts another thread to serve
// the io_context in its place, and tells the run's handler_speed so that its
// next requests go to the pool; the held thread leaves when the run returns.
// So deadlines still fire on time, and a handler that blocks for ever costs
// one thread, never the host.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace fcgihost::runners {

class handler_speed;

class io_threads {
 public:
  static constexpr auto default_stall_limit = std::chrono::milliseconds(2);

  // The io_context must not have been made with a concurrency hint of 1: a
  // thread held by a run must not keep work queued for itself. At most
  // `max_replacements` threads replace held ones at once.
  // `on_stall(label, replaced)` is told, from the watchdog, of each stall.
  using stall_callback = std::function<void(const std::string& label, bool replaced)>;
  io_threads(boost::asio::io_context& io, std::size_t count, std::size_t max_replacements,
             stall_callback on_stall = {}, std::chrono::milliseconds stall_limit = default_stall_limit);
  ~io_threads();  // stop(), then joins every thread (a run that never returns blocks it)
  io_threads(const io_threads&) = delete;
  io_threads& operator=(const io_threads&) = delete;

  boost::asio::io_context& context() const { return io_; }
  // Starts `count` threads running the io_context, and the watchdog.
  void start();
  // Runs `work` now, on this thread; from a thread of the io_context only,
  // outside any strand (post or defer it to the io_context). `speed` is told
  // if the run stalls.
  void run_inline(const std::function<void()>& work, handler_speed& speed);
  // From any thread: stops the io_context.
  void stop();
  // Waits for stop(), then up to `grace` for the threads to leave; joins
  // those that did. Returns how many are still held by a run.
  std::size_t wait(std::chrono::milliseconds grace);

  std::size_t thread_count() const;  // serving the io_context, or held by a run
  std::size_t stalls() const { return stalls_.load(std::memory_order_relaxed); }

 private:
  struct thread_slot;
  struct leave_signal {};

  void spawn_locked();
  void serve(thread_slot& slot);
  void watch();
  void replace_stalled_locked(std::chrono::steady_clock::time_point now);
  void join_finished_locked(std::unique_lock<std::mutex>& lock);

  boost::asio::io_context& io_;
  const std::size_t count_;
  const std::size_t max_replacements_;
  const std::chrono::milliseconds stall_limit_;
  stall_callback on_stall_;
  struct work_guard;
  std::unique_ptr<work_guard> work_;  // io_context::run() returns only on stop()
  mutable std::mutex mutex_;
  std::condition_variable watch_;    // wakes the watchdog
  std::condition_variable changed_;  // stop() was called, or a thread left
  std::list<thread_slot> slots_;
  std::vector<thread_slot*> finished_;  // left serve(), not joined yet
  std::thread watchdog_;
  std::size_t replacing_ = 0;  // held threads replaced, still held
  std::atomic<std::uint64_t> runs_{0};
  std::atomic<bool> watchdog_asleep_{false};  // in an untimed wait: a run must wake it
  std::atomic<std::size_t> stalls_{0};
  bool stopping_ = false;
  bool stopped_ = false;  // stop() was called (for wait())
};

}  // namespace fcgihost::runners
