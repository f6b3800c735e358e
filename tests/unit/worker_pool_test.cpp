// The handler thread pool grows for a task that waits behind a blocked
// thread, and not for a burst of quick tasks.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <runners/worker_pool.hpp>

namespace fcgihost::runners {
namespace {

TEST(WorkerPool, GrowsWhenATaskWaitsBehindABlockedThread) {
  worker_pool pool(1, 4);
  std::promise<void> release;
  auto released = release.get_future().share();
  pool.submit([released] { released.wait(); });  // holds the only thread
  std::promise<void> ran;
  pool.submit([&ran] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(pool.thread_count(), 2u);
  release.set_value();
}

TEST(WorkerPool, ABurstOfQuickTasksDoesNotGrowIt) {
  worker_pool pool(1, 8);
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i) pool.submit([&done] { ++done; });
  for (int i = 0; i < 500 && done < 200; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(done.load(), 200);
  // It grew one thread per queued task before; now only a task kept waiting
  // 20 ms would make it grow.
  EXPECT_LT(pool.thread_count(), 8u);
}

TEST(WorkerPool, NeverGrowsPastItsCap) {
  worker_pool pool(1, 2);
  std::promise<void> release;
  auto released = release.get_future().share();
  for (int i = 0; i < 4; ++i) pool.submit([released] { released.wait(); });
  // Grown to the cap: both threads blocked, two tasks still queued...
  for (int i = 0; i < 500 && pool.busy_count() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(pool.busy_count(), 2u);
  // ...and five more grow periods later, still at the cap.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(pool.thread_count(), 2u);
  release.set_value();
}

}  // namespace
}  // namespace fcgihost::runners
