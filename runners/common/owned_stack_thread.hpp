// A thread whose stack is mapped here and unmapped when it is joined. glibc
// keeps the stacks of threads that have left cached for the next ones, their
// touched pages resident: a pool that grew to 24 threads for a burst kept
// 290 KiB that way after they had all left.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <functional>

namespace fcgihost::runners {

class owned_stack_thread {
 public:
  // Starts `body` on a new thread with a stack of the size new threads get
  // by default (RLIMIT_STACK, as glibc does), plus a guard page. Throws
  // std::system_error when the thread cannot start.
  explicit owned_stack_thread(std::function<void()> body);
  ~owned_stack_thread();  // joins
  owned_stack_thread(const owned_stack_thread&) = delete;
  owned_stack_thread& operator=(const owned_stack_thread&) = delete;

  bool is(pthread_t thread) const { return ::pthread_equal(thread_, thread) != 0; }
  // Waits for the thread to end and unmaps its stack.
  void join();

 private:
  static void* start(void* self);

  std::function<void()> body_;
  pthread_t thread_{};
  void* mapping_ = nullptr;
  std::size_t mapping_size_ = 0;
  bool joined_ = false;
};

}  // namespace fcgihost::runners
