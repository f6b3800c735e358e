// The threads that run the io_context: they do the socket I/O, the timers and
// the scripts' pipes, and run plugin handlers in between. A handler runs on a
// thread of the io_context, off any strand, so a quick one costs no hand-off
// to another thread and back: those wake-ups were half the host's CPU time
// (hello, 64 in flight on 2 cores: 23k -> 37k requests/s).
//
// A handler that blocks holds its thread. Another thread starts when every
// thread has been inside a handler for 2 ms, so that nothing serves the
// sockets and timers, or when a handler waited 20 ms to start; a burst of
// quick handlers never grows it. Threads beyond `io_threads` leave again
// after 10 s without need. At most `max_handlers` run at once; the rest wait
// their turn, and the threads beyond them keep serving, so timeouts still fire.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace fcgihost::runners {

class serving_threads {
 public:
  // The io_context must not have been made with a concurrency hint of 1: a
  // handler blocked on its thread must not hold work queued for that thread.
  // Threads beyond `io_threads` leave after `retire_after` without any need
  // for more.
  serving_threads(boost::asio::io_context& io, std::size_t io_threads, std::size_t max_handlers,
                  std::chrono::milliseconds retire_after = std::chrono::seconds(10));
  ~serving_threads();  // stops, and joins every thread (a handler that never returns blocks it)
  serving_threads(const serving_threads&) = delete;
  serving_threads& operator=(const serving_threads&) = delete;

  // Starts `io_threads` threads running the io_context.
  void start();
  // Runs `handler` on one of the threads, outside any strand.
  void submit(std::function<void()> handler);
  // Called by a handler's task on its thread, when the handler returned after
  // its request was stopped: a thread that is surplus leaves at once instead
  // of rejoining the io_context. When a deadline stops dozens of handlers
  // blocked on clients that do not read, their threads would otherwise all
  // come back to the io_context together and contend for it, and the other
  // deadlines due then would fire up to 30 ms late. Throws (to unwind out of
  // the io_context's run()); call it last.
  void leave_if_surplus();
  // From any thread: stops the io_context; handlers not started yet are dropped.
  void stop();
  // Waits for stop(), then up to `grace` for the threads to leave their
  // handlers, and joins those that did. Returns how many are still inside a
  // handler (it ignored its stop token); the process should then exit without
  // unloading plugins.
  std::size_t wait(std::chrono::milliseconds grace);

  std::size_t thread_count() const;
  std::size_t busy_count() const;  // handlers running now

 private:
  struct work_guard;
  struct retire_signal;

  void run_handler(std::function<void()> handler, std::chrono::steady_clock::time_point submitted);
  void run_admitted(std::function<void()> handler);
  bool may_grow_locked() const;
  // Threads that can take work: inside run() and not about to retire. Not
  // threads_.size(), which also counts threads that left and wait to be
  // joined: all the others busy, queued work would then wait for a handler
  // to end without the pool ever looking saturated.
  std::size_t able_locked() const { return serving_ > retiring_ ? serving_ - retiring_ : 0; }
  void spawn_locked();
  void serve();
  void grow_when_stuck();
  void retire_surplus_locked(std::unique_lock<std::mutex>& lock);

  boost::asio::io_context& io_;
  const std::size_t io_threads_;
  const std::size_t max_handlers_;
  const std::chrono::milliseconds retire_after_;
  std::unique_ptr<work_guard> work_;  // io_context::run() returns only on stop()
  mutable std::mutex mutex_;
  std::condition_variable saturated_;  // wakes the grower
  std::condition_variable changed_;    // stop() was called, or a thread left run()
  std::deque<std::function<void()>> waiting_;  // over max_handlers
  std::vector<std::thread> threads_;
  std::thread grower_;
  std::size_t busy_ = 0;
  std::size_t serving_ = 0;  // threads still inside run()
  std::chrono::steady_clock::time_point saturated_since_;
  std::chrono::steady_clock::time_point last_spawn_;
  std::chrono::steady_clock::time_point last_growth_;  // the grower's last step
  std::size_t growth_step_ = 1;  // threads the grower starts at once
  std::size_t retiring_ = 0;                // retire signals posted, not yet taken
  std::vector<std::thread::id> retired_;    // left run(), not joined yet
  bool grower_asleep_ = false;  // in an untimed wait: saturation must wake it

  bool stopping_ = false;
};

}  // namespace fcgihost::runners
