// The threads that run plugin handlers, apart from the I/O threads: a
// handler that blocks (on a database, on a client that does not read, or for
// ever) holds one of these, never a thread that serves sockets and timers,
// so deadlines fire on time whatever the handlers do.
//
// A thread starts when a handler is submitted and no thread is idle, up to
// `max_handlers`; past that, handlers wait their turn in order of arrival.
// Threads idle for `retire_after` leave, down to `keep_threads` (none by
// default: a thread that leaves gives back its stack and the heap chunks its
// malloc cache held, which an idle host then trims).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <vector>

#include <runners/common/owned_stack_thread.hpp>

namespace fcgihost::runners {

class handler_pool {
 public:
  explicit handler_pool(std::size_t max_handlers, std::chrono::milliseconds retire_after = std::chrono::seconds(10),
                        std::size_t keep_threads = 0);
  ~handler_pool();  // stop(), then joins every thread (a handler that never returns blocks it)
  handler_pool(const handler_pool&) = delete;
  handler_pool& operator=(const handler_pool&) = delete;

  // Runs `handler` on a thread of the pool (from any thread); dropped after stop().
  void submit(std::function<void()> handler);
  // Handlers not started yet are dropped; no new ones start.
  void stop();
  // After stop(): waits up to `grace` for the running handlers to return and
  // joins the threads. Returns how many handlers are still running (they
  // ignored their stop token); the process should then exit without
  // unloading plugins.
  std::size_t wait(std::chrono::milliseconds grace);

  std::size_t thread_count() const;
  std::size_t busy_count() const;  // handlers running now
  std::size_t queued_count() const;

 private:
  void spawn_locked();
  void serve();
  void join_finished_locked(std::unique_lock<std::mutex>& lock);

  const std::size_t max_handlers_;
  const std::chrono::milliseconds retire_after_;
  const std::size_t keep_threads_;
  mutable std::mutex mutex_;
  std::condition_variable work_or_stop_;  // wakes idle threads
  std::condition_variable changed_;       // a handler returned or a thread left
  std::deque<std::function<void()>> queue_;
  // Stacks of their own: a burst's threads give every page back when they leave.
  std::list<owned_stack_thread> threads_;
  std::vector<pthread_t> finished_;  // left serve(), not joined yet
  std::size_t idle_ = 0;
  std::size_t busy_ = 0;
  bool stopping_ = false;
};

}  // namespace fcgihost::runners
