// Threads that run plugin handlers, apart from the I/O threads. The pool grows
// while every thread is busy (up to a cap), so a handler that ignores its stop
// token costs one thread, not the service.
#pragma once

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
  void spawn_locked();
  void work();

  const std::size_t max_threads_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
};

}  // namespace fcgihost::runners
