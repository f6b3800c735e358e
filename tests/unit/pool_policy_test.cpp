// The worker pool's decisions without processes, sockets or a clock of
// their own: each rule of pool_policy, handler_timings and crash_backoff.
#include <runners/worker/pool_policy.hpp>

#include <gtest/gtest.h>

namespace fcgihost::runners {
namespace {

using namespace std::chrono_literals;
const pool_clock::time_point t0 = pool_clock::time_point() + 1h;

pool_limits dynamic_pool(std::size_t max_workers = 8, std::size_t min_idle = 1) {
  pool_limits limits;
  limits.max_workers = max_workers;
  limits.min_idle = min_idle;
  limits.quick_pool_size = 3;
  return limits;
}

pool_limits static_pool(std::size_t workers) {
  pool_limits limits = dynamic_pool(workers);
  limits.fixed_size = true;
  return limits;
}

TEST(PoolPolicy, AStaticPoolStartsEveryWorkerAtOpenAndADynamicOneItsSpares) {
  EXPECT_EQ(pool_policy(static_pool(4)).at_open(), 4u);
  EXPECT_EQ(pool_policy(dynamic_pool(8, 2)).at_open(), 2u);
  EXPECT_EQ(pool_policy(dynamic_pool(8, 0)).at_open(), 1u) << "one, so that the first request finds a worker soon";
}

TEST(PoolPolicy, StartsNeverPassMaxWorkersAndCountAsLive) {
  pool_policy policy(dynamic_pool(3));
  EXPECT_EQ(policy.begin_starts(5), 3u);
  EXPECT_EQ(policy.starting(), 3u);
  EXPECT_EQ(policy.live(), 3u);
  EXPECT_EQ(policy.begin_starts(5), 0u);
  policy.start_ended(true);
  EXPECT_EQ(policy.starting(), 2u);
  EXPECT_EQ(policy.live(), 3u);
  policy.start_ended(false);
  EXPECT_EQ(policy.live(), 2u) << "a start that failed leaves the count";
  EXPECT_EQ(policy.begin_starts(2), 1u) << "a target of starting workers, not a number to add";
}

TEST(PoolPolicy, AFirstWaiterStartsWorkersOnlyWhenNoneLivesOrThePoolIsStatic) {
  pool_policy empty(dynamic_pool(4));
  EXPECT_EQ(empty.for_new_waiter(7), 4u);
  pool_policy serving(dynamic_pool(4));
  serving.begin_starts(1);
  EXPECT_FALSE(serving.for_new_waiter(7)) << "a dynamic pool that serves grows while requests wait instead";
  pool_policy fixed(static_pool(2));
  fixed.begin_starts(2);
  EXPECT_EQ(fixed.for_new_waiter(1), 1u);
}

TEST(PoolPolicy, GrowingStopsAtTheCoresForQuickHandlersAndAtMaxWorkersForSlowOnes) {
  pool_policy policy(dynamic_pool(8));
  policy.begin_starts(2);
  policy.start_ended(true);
  policy.start_ended(true);  // 2 live, none starting
  EXPECT_EQ(policy.grow_by(0, false), 0u) << "nobody has waited long";
  EXPECT_EQ(policy.grow_by(10, true), 1u) << "quick handlers: up to quick_pool_size (3)";
  EXPECT_EQ(policy.grow_by(10, false), 6u) << "slow handlers: up to max_workers (8)";
  EXPECT_EQ(policy.grow_by(2, false), 2u) << "a worker for each request that waited";
  policy.begin_starts(1);
  EXPECT_EQ(policy.grow_by(10, true), 0u) << "3 live: quick handlers get no more";
}

TEST(PoolPolicy, ALentIdleWorkerIsReplacedBySparesUnlessQuickRequestsHaveEnoughWorkers) {
  pool_policy policy(dynamic_pool(8, 2));
  policy.begin_starts(3);
  for (int i = 0; i < 3; ++i) policy.start_ended(true);
  EXPECT_EQ(policy.after_idle_lent(1, false, false), 1u) << "two spares kept";
  EXPECT_EQ(policy.after_idle_lent(2, false, false), 0u);
  EXPECT_EQ(policy.after_idle_lent(1, true, true), 0u) << "3 live already serve quick requests";
  EXPECT_EQ(pool_policy(static_pool(3)).after_idle_lent(0, false, false), 0u) << "a static pool has no spares";
}

TEST(PoolPolicy, APipelinedRequestStartsOneMoreWorkerUpToTheCores) {
  pool_policy policy(dynamic_pool(8));
  policy.begin_starts(1);
  EXPECT_EQ(policy.after_pipelined(), 0u) << "one is starting already";
  policy.start_ended(true);
  EXPECT_EQ(policy.after_pipelined(), 1u);
  policy.begin_starts(2);
  for (int i = 0; i < 2; ++i) policy.start_ended(true);
  EXPECT_EQ(policy.after_pipelined(), 0u) << "3 live: as many as the cores keep busy";
}

TEST(PoolPolicy, AWorkerThatLeavesIsReplacedForWaitersOrToKeepAStaticPoolFull) {
  pool_policy policy(dynamic_pool(4));
  policy.begin_starts(4);
  for (int i = 0; i < 4; ++i) policy.start_ended(true);
  policy.left_count();
  EXPECT_EQ(policy.to_replace(0, false), 0u) << "nobody waits";
  EXPECT_EQ(policy.to_replace(5, false), 1u);
  EXPECT_EQ(policy.to_replace(5, true), 0u) << "3 live serve quick handlers";
  pool_policy fixed(static_pool(2));
  fixed.begin_starts(2);
  fixed.start_ended(true);
  fixed.start_ended(true);
  fixed.left_count();
  EXPECT_EQ(fixed.to_replace(0, false), 2u);
  EXPECT_EQ(fixed.begin_starts(fixed.to_replace(0, false)), 1u);
}

TEST(PoolPolicy, ARecycledWorkerIsReplacedForWaitersOrSpares) {
  pool_policy policy(dynamic_pool(8, 2));
  EXPECT_EQ(policy.after_recycled(0), 2u);
  EXPECT_EQ(policy.after_recycled(5), 5u);
  pool_policy fixed(static_pool(3));
  fixed.begin_starts(3);
  for (int i = 0; i < 3; ++i) fixed.start_ended(true);
  fixed.left_count();
  EXPECT_EQ(fixed.after_recycled(0), 1u);
}

TEST(PoolPolicy, AStartIsDroppedWhenNobodyWaitsForItAndTheSparesAreThere) {
  pool_policy policy(dynamic_pool(8, 1));
  policy.begin_starts(1);
  EXPECT_TRUE(policy.start_still_needed(false, false, 0, false)) << "the only spare";
  EXPECT_FALSE(policy.start_still_needed(false, false, 1, false)) << "a spare is idle already";
  EXPECT_TRUE(policy.start_still_needed(true, false, 1, false)) << "a request will still wait for it";
  EXPECT_TRUE(pool_policy(static_pool(2)).start_still_needed(false, false, 5, false));
  EXPECT_EQ(pool_policy::ready_by(t0), t0 + pool_policy::ready_within);
}

// after_pipelined begins a start whenever a quick request goes to a busy
// worker below quick_pool_size; the start must then be wanted, or the next
// such request begins it again (a start per request, the pool never grows).
TEST(PoolPolicy, AStartForRequestsLinedUpInBusyWorkersIsKept) {
  pool_policy policy(dynamic_pool(8, 1));
  ASSERT_EQ(policy.begin_starts(1), 1u);
  policy.start_ended(true);
  ASSERT_EQ(policy.after_pipelined(), 1u);
  ASSERT_EQ(policy.begin_starts(policy.after_pipelined()), 1u);
  EXPECT_TRUE(policy.start_still_needed(false, true, 1, false)) << "begun for requests lined up in a busy worker";
  EXPECT_FALSE(policy.start_still_needed(false, false, 1, false)) << "begun as a spare, and one is idle";
}

TEST(PoolPolicy, TheQueueAndTheCondemnedCapMakeARequestOverloaded) {
  pool_limits limits = dynamic_pool(2);
  limits.max_queue = 3;
  pool_policy policy(limits);
  EXPECT_FALSE(policy.overloaded(2, false));
  EXPECT_TRUE(policy.overloaded(3, false));
  EXPECT_FALSE(policy.overloaded(0, true)) << "room in the pool still";
  policy.begin_starts(2);
  EXPECT_TRUE(policy.overloaded(0, true)) << "full, and no condemned worker may leave the count";
}

TEST(PoolPolicy, AWorkerTakesMoreOnlyBehindQuickRecentRequestsWithinItsLine) {
  pool_limits limits = dynamic_pool();
  limits.pipeline = 3;
  limits.max_requests_per_worker = 10;
  pool_policy policy(limits);
  worker_load worker{.served = 0, .in_flight = 1, .slow_in_flight = 0, .front_since = t0, .available = true};
  EXPECT_TRUE(policy.takes_more(worker, t0 + 1ms));
  EXPECT_FALSE(policy.takes_more(worker, t0 + pool_policy::pipeline_behind_at_most)) << "behind a long run";
  worker.slow_in_flight = 1;
  EXPECT_FALSE(policy.takes_more(worker, t0)) << "behind a handler not proven quick";
  worker.slow_in_flight = 0;
  worker.in_flight = 3;
  EXPECT_FALSE(policy.takes_more(worker, t0)) << "its line is full (worker-pipeline)";
  worker.in_flight = 1;
  worker.served = 9;
  EXPECT_FALSE(policy.takes_more(worker, t0)) << "it would pass worker-max-requests";
  worker.served = 0;
  worker.available = false;
  EXPECT_FALSE(policy.takes_more(worker, t0)) << "condemned, leaving or dead";
}

TEST(PoolPolicy, AWorkerIsRecycledAfterItsRequestsOrPastItsMemory) {
  pool_limits limits = dynamic_pool();
  limits.max_requests_per_worker = 3;
  limits.max_memory_per_worker = 1 << 20;
  pool_policy policy(limits);
  int rss_reads = 0;
  const auto small = [&] { ++rss_reads; return std::uint64_t{1000}; };
  EXPECT_FALSE(policy.recycle_after(2, small));
  const auto by_count = policy.recycle_after(3, small);
  ASSERT_TRUE(by_count);
  EXPECT_EQ(by_count->why, recycling::cause::max_requests);
  EXPECT_EQ(rss_reads, 1) << "memory is not read when the count already decides";
  const auto by_memory = policy.recycle_after(1, [] { return std::uint64_t{2} << 20; });
  ASSERT_TRUE(by_memory);
  EXPECT_EQ(by_memory->why, recycling::cause::max_memory);
  pool_policy unlimited(dynamic_pool());
  EXPECT_FALSE(unlimited.recycle_after(1'000'000, [&] { ADD_FAILURE() << "read without a limit"; return std::uint64_t{0}; }));
}

TEST(PoolPolicy, IdleWorkersBeyondTheSparesLeaveAfterTheIdleTimeout) {
  pool_limits limits = dynamic_pool(8, 1);
  limits.idle_timeout = 10s;
  pool_policy policy(limits);
  EXPECT_FALSE(policy.idle_surplus(2, 9s));
  EXPECT_TRUE(policy.idle_surplus(2, 10s));
  EXPECT_FALSE(policy.idle_surplus(1, 1h)) << "the last spare stays";
}

TEST(HandlerTimings, AHandlerIsQuickAfterFourShortRunsAndNeverBefore) {
  handler_timings timings;
  EXPECT_FALSE(timings.quick("h")) << "never a handler not yet seen";
  for (std::size_t i = 1; i < handler_timings::proven_after_runs; ++i) timings.ran("h", 100);
  EXPECT_FALSE(timings.quick("h"));
  timings.ran("h", 100);
  EXPECT_TRUE(timings.quick("h"));
  EXPECT_FALSE(timings.quick("other"));
}

TEST(HandlerTimings, ASlowAverageIsNotQuickAndAColdFirstRunIsSoonOutweighed) {
  handler_timings slow;
  for (int i = 0; i < 10; ++i) slow.ran("s", 50'000);
  EXPECT_FALSE(slow.quick("s"));
  handler_timings cold;
  cold.ran("c", 30'000);  // page faults, lazy binding
  for (int i = 0; i < 40; ++i) cold.ran("c", 50);
  EXPECT_TRUE(cold.quick("c"));
}

TEST(HandlerTimings, ThePoolIsQuickWhileHoldsAreShortAndNoWorkerIsHeldLong) {
  handler_timings timings;
  EXPECT_TRUE(timings.all_quick(0s));
  EXPECT_FALSE(timings.all_quick(handler_timings::long_hold)) << "a worker held for long right now";
  for (int i = 0; i < 100; ++i) timings.ran("slow", 100'000);
  EXPECT_FALSE(timings.all_quick(0s)) << "the average hold is long";
}

TEST(CrashBackoff, TheThirdCrashInAMinuteDelaysTheNextStartDoublingUpToFiveSeconds) {
  crash_backoff backoff;
  backoff.crashed(t0);
  backoff.crashed(t0);
  EXPECT_EQ(backoff.delay(t0), 0ms);
  backoff.crashed(t0);
  EXPECT_EQ(backoff.delay(t0), 100ms);
  backoff.crashed(t0);
  EXPECT_EQ(backoff.delay(t0), 200ms);
  for (int i = 0; i < 20; ++i) backoff.crashed(t0);
  EXPECT_EQ(backoff.delay(t0), crash_backoff::most_delay);
  EXPECT_EQ(backoff.recent(t0 + crash_backoff::window + 1ms), 0u) << "a minute later, forgotten";
  EXPECT_EQ(backoff.delay(t0 + crash_backoff::window + 1ms), 0ms);
}

}  // namespace
}  // namespace fcgihost::runners
