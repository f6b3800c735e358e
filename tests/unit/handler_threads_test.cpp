// The handler pool grows for handlers that block and shrinks when idle, caps
// the handlers running at once, and reports handlers that never return. The
// I/O threads run fast-path handlers and, when one blocks all the same, go on
// serving the io_context on a replacement thread. handler_speed grants the
// fast path for quick runs and takes it back.
#include <gtest/gtest.h>

#include <boost/asio/defer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <runners/function/handler_pool.hpp>
#include <runners/function/handler_speed.hpp>
#include <runners/function/io_threads.hpp>

namespace fcgihost::runners {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Polls `done` for up to five seconds.
template <typename Condition>
bool eventually(Condition done) {
  for (int i = 0; i < 2500 && !done(); ++i) std::this_thread::sleep_for(2ms);
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

// What a socket or timer completion would be: work posted to the io_context.
bool io_is_served(asio::io_context& io) {
  std::promise<void> ran;
  asio::post(io, [&ran] { ran.set_value(); });
  return ran.get_future().wait_for(5s) == std::future_status::ready;
}

TEST(HandlerPool, QuickHandlersOneAfterAnotherUseOneThread) {
  handler_pool pool(8);
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    pool.submit([&done] { ++done; });
    ASSERT_TRUE(eventually([&] { return done == i + 1; }));
  }
  EXPECT_EQ(pool.thread_count(), 1u);
}

TEST(HandlerPool, AHandlerNeverWaitsBehindABlockedOne) {
  handler_pool pool(8);
  gate release;
  pool.submit(release.blocked_handler());
  std::promise<void> ran;
  pool.submit([&ran] { ran.set_value(); });
  EXPECT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(pool.thread_count(), 2u);
  release.open();
}

TEST(HandlerPool, AtMostMaxHandlersRunAndTheRestWaitTheirTurnInOrder) {
  handler_pool pool(2);
  gate release_first;
  gate release_second;
  std::mutex order_mutex;
  std::vector<int> order;
  const auto record = [&order, &order_mutex](int i) {
    std::lock_guard lock(order_mutex);
    order.push_back(i);  // as it starts
  };
  pool.submit([wait = release_first.blocked_handler(), record] {
    record(0);
    wait();
  });
  pool.submit([wait = release_second.blocked_handler(), record] {
    record(1);
    wait();
  });
  for (int i = 2; i < 6; ++i) pool.submit([i, record] { record(i); });
  ASSERT_TRUE(eventually([&] { return pool.busy_count() == 2; }));
  EXPECT_EQ(pool.queued_count(), 4u);
  EXPECT_EQ(pool.thread_count(), 2u);
  // One thread freed while the other stays blocked: the waiting ones run on
  // it one after another, so the order they start in is the queue's order.
  release_first.open();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(order_mutex);
    return order.size() == 6;
  }));
  EXPECT_EQ((std::vector<int>(order.begin() + 2, order.end())), (std::vector<int>{2, 3, 4, 5}));
  EXPECT_TRUE(eventually([&] { return pool.busy_count() == 1; }));
  release_second.open();
  EXPECT_TRUE(eventually([&] { return pool.busy_count() == 0; }));
}

TEST(HandlerPool, IdleThreadsLeaveDownToTheOnesKept) {
  handler_pool pool(8, 200ms, 1);
  gate release;
  for (int i = 0; i < 5; ++i) pool.submit(release.blocked_handler());
  ASSERT_TRUE(eventually([&] { return pool.busy_count() == 5; }));
  EXPECT_EQ(pool.thread_count(), 5u);
  release.open();
  EXPECT_TRUE(eventually([&] { return pool.thread_count() == 1; })) << pool.thread_count();
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) pool.submit([&done] { ++done; });
  EXPECT_TRUE(eventually([&] { return done == 50; }));
}

TEST(HandlerPool, WaitReportsAHandlerThatDoesNotReturnAndDropsTheQueued) {
  handler_pool pool(1);
  gate release;
  std::atomic<int> ran{0};
  pool.submit([wait = release.blocked_handler(), &ran] {
    ++ran;
    wait();
  });
  ASSERT_TRUE(eventually([&] { return pool.busy_count() == 1; }));
  pool.submit([&ran] { ++ran; });
  pool.stop();
  EXPECT_EQ(pool.wait(50ms), 1u);
  release.open();
  EXPECT_TRUE(eventually([&] { return pool.busy_count() == 0; }));
  EXPECT_EQ(ran.load(), 1);
  pool.submit([&ran] { ++ran; });  // after stop: dropped
  EXPECT_EQ(pool.wait(1s), 0u);
  EXPECT_EQ(ran.load(), 1);
}

// An io_context (never with a concurrency hint of 1, as in the host) and its
// I/O threads, started.
struct started_io {
  asio::io_context io{2};
  io_threads threads;
  started_io(std::size_t count, std::size_t max_replacements) : threads(io, count, max_replacements) {
    threads.start();
  }
};

// A fast-path run that blocks its I/O thread until the gate opens.
struct blocking_run {
  gate release;
  handler_speed speed;
  std::function<void()> work = release.blocked_handler();
  void start_on(started_io& started) {
    asio::post(started.io, [this, &threads = started.threads] { threads.run_inline(work, speed); });
  }
  // Starts it and waits until the watchdog has seen it stall.
  bool stalls_on(started_io& started) {
    const auto before = started.threads.stalls();
    start_on(started);
    return eventually([&] { return started.threads.stalls() == before + 1; });
  }
};

TEST(IoThreads, AFastPathRunThatBlocksIsReplacedAndItsHandlerDemoted) {
  blocking_run run;  // outlives the threads that run it
  started_io started(1, 4);
  auto& [io, threads] = started;
  for (std::uint32_t i = 0; i < handler_speed::first_needed; ++i) run.speed.ran(1us, false, false);
  ASSERT_TRUE(run.speed.runs_inline());
  run.start_on(started);
  // The only I/O thread is held; sockets and timers are served all the same.
  EXPECT_TRUE(io_is_served(io));
  EXPECT_EQ(threads.stalls(), 1u);
  EXPECT_FALSE(run.speed.runs_inline());
  EXPECT_EQ(threads.thread_count(), 2u);
  run.release.open();
  // The held thread leaves once its run returns.
  EXPECT_TRUE(eventually([&] { return threads.thread_count() == 1; })) << threads.thread_count();
  EXPECT_TRUE(io_is_served(io));
}

// A fast-path run hands its result back with a defer (function_runner does),
// which queues it on the run's own thread. A held thread leaves once the run
// returns: what it queued must still run, and at once, though nothing else
// wakes the replacement (a worker with its host's requests all sent: they
// waited for their deadline, 1 farm run in 40).
TEST(IoThreads, WhatAReplacedRunHandsBackIsServedAtOnce) {
  gate release;
  handler_speed speed;
  std::atomic<bool> delivered{false};
  started_io started(1, 4);
  auto& [io, threads] = started;
  std::function<void()> work = [&] {
    release.open_future.wait();
    asio::defer(io, [&delivered] { delivered = true; });
  };
  asio::post(io, [&] { threads.run_inline(work, speed); });
  ASSERT_TRUE(eventually([&] { return threads.thread_count() == 2; }));
  release.open();
  EXPECT_TRUE(eventually([&] { return delivered.load(); }));
  EXPECT_TRUE(eventually([&] { return threads.thread_count() == 1; })) << threads.thread_count();
}

TEST(IoThreads, QuickRunsNeedNoWatchdogAndCostNoThreads) {
  started_io started(1, 4);
  auto& [io, threads] = started;
  handler_speed speed;
  std::atomic<int> done{0};
  std::function<void()> quick = [&done] { ++done; };
  for (int i = 0; i < 1000; ++i) asio::post(io, [&] { threads.run_inline(quick, speed); });
  EXPECT_TRUE(eventually([&] { return done == 1000; }));
  EXPECT_EQ(threads.stalls(), 0u);
  EXPECT_EQ(threads.thread_count(), 1u);
}

TEST(IoThreads, ReplacementsAreBounded) {
  blocking_run run;  // outlives the threads that run it
  started_io started(1, 1);
  auto& [io, threads] = started;
  ASSERT_TRUE(run.stalls_on(started));
  ASSERT_TRUE(io_is_served(io));
  // The replacement blocks too: the watchdog's pass that saw it decided to
  // start no third thread.
  ASSERT_TRUE(run.stalls_on(started));
  EXPECT_EQ(threads.thread_count(), 2u);
  run.release.open();
  EXPECT_TRUE(eventually([&] { return threads.thread_count() == 1; })) << threads.thread_count();
  EXPECT_TRUE(io_is_served(io));
}

TEST(IoThreads, WaitReportsARunThatDoesNotReturn) {
  blocking_run run;  // outlives the threads that run it
  started_io started(1, 0);
  auto& [io, threads] = started;
  ASSERT_TRUE(run.stalls_on(started));
  threads.stop();
  EXPECT_EQ(threads.wait(50ms), 1u);
  run.release.open();  // the destructor then joins it
}

TEST(HandlerSpeed, TheFastPathIsEarnedByQuickRunsAndLostByOneSlowOrWaitingRun) {
  handler_speed speed;
  for (std::uint32_t i = 0; i + 1 < handler_speed::first_needed; ++i) speed.ran(5us, false, false);
  EXPECT_FALSE(speed.runs_inline());
  speed.ran(5us, false, false);
  EXPECT_TRUE(speed.runs_inline());
  speed.ran(5us, true, false);  // waited for the client
  EXPECT_FALSE(speed.runs_inline());
  for (std::uint32_t i = 0; i < handler_speed::first_needed; ++i) speed.ran(5us, false, false);
  EXPECT_TRUE(speed.runs_inline());
  speed.ran(handler_speed::quick_limit + 1us, false, false);
  EXPECT_FALSE(speed.runs_inline());
}

TEST(HandlerSpeed, AHandlerThatReadItsBodyOnceIsKnownToReadIt) {
  handler_speed speed;
  EXPECT_FALSE(speed.reads_input());
  speed.ran(5us, false, true);
  for (int i = 0; i < 100; ++i) speed.ran(5us, false, false);
  EXPECT_TRUE(speed.reads_input());
  EXPECT_TRUE(speed.runs_inline());
}

TEST(HandlerSpeed, AStallRaisesTheBar) {
  handler_speed speed;
  for (std::uint32_t i = 0; i < handler_speed::first_needed; ++i) speed.ran(5us, false, false);
  speed.stalled();
  for (std::uint32_t i = 0; i < handler_speed::first_needed * 4 - 1; ++i) speed.ran(5us, false, false);
  EXPECT_FALSE(speed.runs_inline());
  speed.ran(5us, false, false);
  EXPECT_TRUE(speed.runs_inline());
  for (int i = 0; i < 20; ++i) speed.stalled();
  for (std::uint32_t i = 0; i < handler_speed::most_needed; ++i) speed.ran(5us, false, false);
  EXPECT_TRUE(speed.runs_inline()) << "the bar stops rising";
}

}  // namespace
}  // namespace fcgihost::runners
