// Threads that run plugin handlers, apart from the I/O threads. The pool grows
// (up to a cap) when a task has waited in the queue while every thread was
// busy, so a handler that blocks or ignores its stop token costs one thread,
// not the service. It does not grow for a burst of quick tasks: on a few
// cores, more threads than that only contend (64 hello requests in flight
// grew it to 26 threads and cost a quarter of the throughput).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fcgihost::runners {

class worker_pool {
 public:
  worker_pool(std::size_t min_threads, std::size_t max_threads);
  ~worker_pool();  // see stop()
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  void submit(std::function<void()> task);

  // Stops taking tasks, waits up to `grace` for running ones. Returns the
  // number of threads still busy (handlers that would not stop); those are
  // detached, and the process should exit without unloading plugins.
  std::size_t stop(std::chrono::milliseconds grace);

  std::size_t thread_count() const;
  std::size_t busy_count() const;

 private:
  struct queued_task {
    std::function<void()> run;
    std::chrono::steady_clock::time_point since;
  };

  void spawn_locked();
  void work();
  void grow_when_stuck();

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::condition_variable queue_waits_;  // wakes the grower
  std::deque<queued_task> tasks_;
  std::vector<std::thread> threads_;
  std::thread grower_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
};

}  // namespace fcgihost::runners
