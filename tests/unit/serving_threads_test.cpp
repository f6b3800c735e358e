// The serving threads run handlers between their I/O, add a thread when every
// one has been inside a handler for a while (never for a burst of quick ones),
// cap the handlers running at once, and report handlers that never return.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <thread>

#include <runners/serving_threads.hpp>

namespace fcgihost::runners {
namespace {

namespace asio = boost::asio;

// Polls `done` for up to five seconds.
template <typename Condition>
bool eventually(Condition done) {
  for (int i = 0; i < 2500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return done();
}

// Handlers that block until the gate opens.
struct gate {
  std::promise<void> opened;
  std::shared_future<void> open_future = opened.get_future().share();
  std::function<void()> blocked_handler() {
    return [future = open_future] { future.wait(); };
  }
  void open() { opened.set_value(); }
};

// An io_context (never with a concurrency hint of 1, as in the host) and its
// serving threads, started.
struct started_threads {
  asio::io_context io{2};
  serving_threads threads;
  started_threads(std::size_t io_threads, std::size_t max_handlers,
                  std::chrono::milliseconds retire_after = std::chrono::seconds(10))
      : threads(io, io_threads, max_handlers, retire_after) {
    threads.start();
  }
};

// What a socket or timer completion would be: work posted to the io_context.
bool io_is_served(asio::io_context& io) {
  std::promise<void> ran;
  asio::post(io, [&ran] { ran.set_value(); });
  return ran.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready;
}

TEST(ServingThreads, QuickHandlersDoNotAddThreads) {
  started_threads started(1, 8);
  auto& [io, threads] = started;
  std::atomic<int> done{0};
  for (int i = 0; i < 200; ++i) threads.submit([&done] { ++done; });
  EXPECT_TRUE(eventually([&] { return done == 200; }));
  EXPECT_EQ(threads.thread_count(), 1u);
}

TEST(ServingThreads, AThreadStartsWhenEveryOneIsStuckInAHandler) {
  started_threads started(1, 8);
  auto& [io, threads] = started;
  gate release;
  threads.submit(release.blocked_handler());  // holds the only thread
  ASSERT_TRUE(eventually([&] { return threads.busy_count() == 1; }));
  // Sockets and timers are served again, on a second thread.
  EXPECT_TRUE(io_is_served(io));
  EXPECT_EQ(threads.thread_count(), 2u);
  release.open();
}

TEST(ServingThreads, ABurstOfBlockingHandlersAllGetThreadsAndGrowthStaysBounded) {
  started_threads started(1, 64);
  auto& [io, threads] = started;
  gate release;
  for (int i = 0; i < 20; ++i) threads.submit(release.blocked_handler());
  EXPECT_TRUE(eventually([&] { return threads.busy_count() == 20; }));
  EXPECT_TRUE(io_is_served(io));
  // Steps double up to 16 threads: never more than twice what was needed, plus one.
  EXPECT_LE(threads.thread_count(), 41u);
  release.open();
}

TEST(ServingThreads, AThreadStartsWhenHandlersWaitBehindSlowOnes) {
  started_threads started(1, 8);
  auto& [io, threads] = started;
  // Back to back, 1 ms each: never every thread stuck for 2 ms at a stretch,
  // but the last ones wait more than 20 ms to start.
  std::atomic<int> done{0};
  for (int i = 0; i < 40; ++i) threads.submit([&done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++done;
    });
  EXPECT_TRUE(eventually([&] { return done == 40; }));
  EXPECT_GE(threads.thread_count(), 2u);
}

TEST(ServingThreads, ThreadsNoLongerNeededLeave) {
  started_threads started(1, 8, std::chrono::milliseconds(200));
  auto& [io, threads] = started;
  gate release;
  for (int i = 0; i < 3; ++i) threads.submit(release.blocked_handler());
  ASSERT_TRUE(eventually([&] { return threads.busy_count() == 3; }));
  EXPECT_GE(threads.thread_count(), 4u);
  release.open();
  // 200 ms after the last need, down to the one asked for.
  EXPECT_TRUE(eventually([&] { return threads.thread_count() == 1; })) << threads.thread_count();
  EXPECT_TRUE(io_is_served(io));
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) threads.submit([&done] { ++done; });
  EXPECT_TRUE(eventually([&] { return done == 50; }));
}

TEST(ServingThreads, AtMostMaxHandlersRunAndTheRestWaitTheirTurn) {
  started_threads started(1, 2);
  auto& [io, threads] = started;
  gate release;
  std::atomic<int> finished{0};
  for (int i = 0; i < 4; ++i) threads.submit([wait = release.blocked_handler(), &finished] {
      wait();
      ++finished;
    });
  ASSERT_TRUE(eventually([&] { return threads.busy_count() == 2; }));
  // Five grow periods later: still two handlers running, two waiting, and
  // the sockets still served.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(threads.busy_count(), 2u);
  EXPECT_EQ(finished.load(), 0);
  EXPECT_TRUE(io_is_served(io));
  EXPECT_EQ(threads.thread_count(), 3u);  // two in handlers, one serving
  release.open();
  EXPECT_TRUE(eventually([&] { return finished == 4; }));
}

TEST(ServingThreads, WaitReportsAHandlerThatDoesNotReturn) {
  started_threads started(2, 8);
  auto& [io, threads] = started;
  gate release;
  threads.submit(release.blocked_handler());
  ASSERT_TRUE(eventually([&] { return threads.busy_count() == 1; }));
  threads.stop();
  EXPECT_EQ(threads.wait(std::chrono::milliseconds(50)), 1u);
  release.open();  // the destructor then joins it
}

TEST(ServingThreads, HandlersNotStartedAtStopAreDropped) {
  started_threads started(1, 1);
  auto& [io, threads] = started;
  gate release;
  std::atomic<int> ran{0};
  threads.submit([wait = release.blocked_handler(), &ran] {
    ++ran;
    wait();
  });
  ASSERT_TRUE(eventually([&] { return threads.busy_count() == 1; }));
  threads.submit([&ran] { ++ran; });  // waits: one handler at a time
  ASSERT_TRUE(io_is_served(io));      // it has been queued behind the first
  threads.stop();
  release.open();
  EXPECT_EQ(threads.wait(std::chrono::seconds(5)), 0u);
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace fcgihost::runners
