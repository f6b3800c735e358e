// The connection's state machine without a socket: the clock is a number the
// test moves, each event's action is checked, and the timer is what the
// actions armed (see connection_fsm.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

#include <host/transport/connection_fsm.hpp>

namespace fcgihost::host {
namespace {

using namespace std::chrono_literals;
using kind = connection_action::kind;
using time_point = connection_fsm::time_point;

// Drives a connection_fsm as the connection does: keeps the one timer the
// actions arm, and fires it when the fake clock passes it.
class driven {
 public:
  explicit driven(connection_timeouts timeouts = {.read = 3s, .idle = 10s}) : fsm(timeouts, now) {}

  connection_action take(connection_action action) {
    if (action.wake_at) timer = *action.wake_at;
    if (action.what == kind::close) {
      closes.push_back(action.reason);
      timer = time_point::max();  // the driver cancels it with the socket
    }
    return action;
  }
  // Moves the clock by `by`, firing the timer on the way as often as it is due.
  connection_action advance(std::chrono::milliseconds by) {
    const auto until = now + by;
    connection_action last;
    while (timer != time_point::max() && timer <= until) {
      now = timer;
      timer = time_point::max();
      last = take(fsm.timer_fired(now));
    }
    now = until;
    return last;
  }
  void open() { take(fsm.opened(now, false, false)); }
  // Bytes arrive and are handled; `whole`: they end at a record boundary.
  connection_action bytes_arrive(bool whole = true, bool backlogged = false) {
    take(fsm.input(now));
    return take(fsm.input_handled(now, whole, backlogged));
  }
  // A request arrives whole: its BEGIN_REQUEST and PARAMS.
  void request_arrives() {
    take(fsm.input(now));
    take(fsm.request_begun());
    take(fsm.request_started());
    take(fsm.input_handled(now, true, false));
  }
  // It ends and its last records go out.
  connection_action request_ends(bool keep_conn = true, bool input_waiting = false) {
    take(fsm.request_released(now, true));
    return take(fsm.last_records_out(now, keep_conn, input_waiting));
  }

  time_point now = time_point() + 1h;
  time_point timer = time_point::max();
  connection_fsm fsm;
  std::vector<close_reason> closes;
};

TEST(ConnectionFsm, AnIdleConnectionClosesAtTheIdleTimeoutNotBefore) {
  driven c;
  c.open();
  EXPECT_EQ(c.timer, c.now + 10s);
  c.advance(9999ms);
  EXPECT_TRUE(c.closes.empty());
  const auto action = c.advance(1ms);
  ASSERT_EQ(c.closes, std::vector{close_reason::idle_timeout});
  EXPECT_EQ(action.limit, 10s);
  EXPECT_EQ(c.fsm.state(), connection_fsm::phase::closed);
}

TEST(ConnectionFsm, InputPushesTheIdleTimeoutBack) {
  driven c;
  c.open();
  c.advance(8s);
  c.bytes_arrive();  // a whole management record, say
  c.advance(9s);
  EXPECT_TRUE(c.closes.empty());
  c.advance(1s);
  EXPECT_EQ(c.closes, std::vector{close_reason::idle_timeout});
}

TEST(ConnectionFsm, HalfARecordGetsTheReadTimeout) {
  driven c;
  c.open();
  c.bytes_arrive(false);
  EXPECT_EQ(c.timer, c.now + 3s);
  c.advance(3s);
  EXPECT_EQ(c.closes, std::vector{close_reason::read_timeout});
}

TEST(ConnectionFsm, ARequestStillSendingItsParamsGetsTheReadTimeout) {
  driven c;
  c.open();
  c.take(c.fsm.input(c.now));
  c.take(c.fsm.request_begun());
  c.take(c.fsm.input_handled(c.now, true, false));
  c.advance(2s);
  c.bytes_arrive();  // more PARAMS, not the end of them
  c.advance(2999ms);
  EXPECT_TRUE(c.closes.empty());
  c.advance(1ms);
  EXPECT_EQ(c.closes, std::vector{close_reason::read_timeout});
}

TEST(ConnectionFsm, ARunningRequestHasNoReadOrIdleLimitAndTheTimerSleeps) {
  driven c;
  c.open();
  c.request_arrives();
  c.advance(10s);  // the idle check set at the start fires, finds no limit in force
  EXPECT_EQ(c.timer, time_point::max()) << "nothing to check while a request runs";
  c.advance(1h);
  EXPECT_TRUE(c.closes.empty());
  // A body stopped mid-record while it runs: its deadline governs, not the read timeout.
  c.bytes_arrive(false);
  c.advance(1h);
  EXPECT_TRUE(c.closes.empty());
}

TEST(ConnectionFsm, TheIdleTimeoutRunsFromTheLastRequestsEnd) {
  driven c;
  c.open();
  c.request_arrives();
  c.advance(30s);
  c.request_ends();
  EXPECT_EQ(c.timer, c.now + 10s);
  c.advance(9s);
  EXPECT_TRUE(c.closes.empty());
  c.advance(1s);
  EXPECT_EQ(c.closes, std::vector{close_reason::idle_timeout});
}

TEST(ConnectionFsm, ZeroTimeoutsMeanNone) {
  driven c({.read = 0ms, .idle = 0ms});
  c.open();
  c.bytes_arrive(false);
  EXPECT_EQ(c.timer, time_point::max());
  c.advance(24h);
  EXPECT_TRUE(c.closes.empty());
}

TEST(ConnectionFsm, AReloadThatShortensTheIdleTimeoutAppliesToAnOpenConnection) {
  driven c;
  c.open();
  c.advance(5s);
  c.take(c.fsm.set_timeouts({.read = 3s, .idle = 2s}));
  EXPECT_EQ(c.timer, c.now - 3s) << "already expired: due now";
  c.advance(0ms);
  EXPECT_EQ(c.closes, std::vector{close_reason::idle_timeout});
}

TEST(ConnectionFsm, WithoutKeepConnItLingersAfterTheLastRecordsThenCloses) {
  driven c;
  c.open();
  c.request_arrives();
  const auto action = c.request_ends(false);
  EXPECT_EQ(action.what, kind::linger);
  EXPECT_EQ(c.fsm.state(), connection_fsm::phase::lingering);
  // Input while lingering is dropped and does not extend the linger.
  EXPECT_EQ(c.take(c.fsm.input(c.now + 1s)).what, kind::none);
  c.advance(1999ms);
  EXPECT_TRUE(c.closes.empty());
  c.advance(1ms);
  EXPECT_EQ(c.closes, std::vector{close_reason::linger_over});
}

TEST(ConnectionFsm, ALingeringConnectionHasNoIdleTimeout) {
  driven c({.read = 1s, .idle = 1s});
  c.open();
  c.request_arrives();
  c.request_ends(false);
  c.advance(1500ms);
  EXPECT_TRUE(c.closes.empty());
  c.advance(500ms);
  EXPECT_EQ(c.closes, std::vector{close_reason::linger_over});
}

TEST(ConnectionFsm, WithoutKeepConnButInputWaitingItWaitsForThatRequest) {
  driven c;
  c.open();
  c.request_arrives();
  EXPECT_EQ(c.request_ends(false, true).what, kind::none);
  EXPECT_EQ(c.fsm.state(), connection_fsm::phase::reading);
  c.request_arrives();
  EXPECT_EQ(c.request_ends(true, false).what, kind::linger) << "still closing: the first request said so";
}

TEST(ConnectionFsm, ADrainClosesAnIdleConnectionAtOnce) {
  driven c;
  c.open();
  c.request_arrives();
  c.request_ends();
  EXPECT_EQ(c.take(c.fsm.drain(c.now, false)).what, kind::linger);
}

TEST(ConnectionFsm, ADrainWaitsForEveryRequestAndEveryLastRecord) {
  driven c;
  c.open();
  c.request_arrives();
  c.request_arrives();
  EXPECT_EQ(c.take(c.fsm.drain(c.now, false)).what, kind::none);
  c.take(c.fsm.request_released(c.now, true));
  c.take(c.fsm.request_released(c.now, true));
  EXPECT_EQ(c.take(c.fsm.last_records_out(c.now, true, false)).what, kind::none)
      << "the other request's last records are still going out";
  EXPECT_EQ(c.take(c.fsm.last_records_out(c.now, true, false)).what, kind::linger);
}

TEST(ConnectionFsm, ADrainWaitsForARefusalsEndRequest) {
  driven c;
  c.open();
  c.bytes_arrive();
  c.fsm.refusal_pending();
  EXPECT_EQ(c.take(c.fsm.drain(c.now, false)).what, kind::none);
  EXPECT_EQ(c.take(c.fsm.last_records_out(c.now, true, false)).what, kind::linger);
}

TEST(ConnectionFsm, AConnectionJustOpenedWhileDrainingGetsAMomentForItsFirstRequest) {
  driven c;
  EXPECT_EQ(c.take(c.fsm.opened(c.now, true, false)).what, kind::none);
  c.advance(999ms);
  EXPECT_EQ(c.fsm.state(), connection_fsm::phase::reading);
  c.advance(1ms);
  EXPECT_EQ(c.fsm.state(), connection_fsm::phase::lingering);
}

TEST(ConnectionFsm, AFirstRequestWithinTheGraceIsServedThenTheConnectionCloses) {
  driven c;
  c.take(c.fsm.opened(c.now, true, false));
  c.advance(500ms);
  c.request_arrives();
  c.advance(5s);
  EXPECT_EQ(c.fsm.state(), connection_fsm::phase::reading) << "the grace ended with the input";
  EXPECT_EQ(c.request_ends().what, kind::linger);
}

TEST(ConnectionFsm, EvictionSparesAConnectionWithARunningRequest) {
  driven c;
  c.open();
  c.request_arrives();
  EXPECT_EQ(c.take(c.fsm.evict()).what, kind::none);
  c.request_ends();
  EXPECT_EQ(c.take(c.fsm.evict()).what, kind::close);
  EXPECT_EQ(c.closes, std::vector{close_reason::evicted});
}

TEST(ConnectionFsm, ItClosesOnceWhateverComesAfter) {
  driven c;
  c.open();
  c.request_arrives();
  c.take(c.fsm.close(close_reason::write_failed));
  EXPECT_EQ(c.timer, time_point::max());
  // What the close sets off: its request ends, the peer's EOF, a timer, another failure.
  c.request_ends();
  c.take(c.fsm.close(close_reason::peer_closed));
  c.take(c.fsm.evict());
  c.take(c.fsm.drain(c.now, false));
  c.advance(1h);
  EXPECT_EQ(c.closes, std::vector{close_reason::write_failed});
  EXPECT_EQ(c.timer, time_point::max());
}

TEST(ConnectionFsm, ABackloggedRequestPausesReadingForABoundedTime) {
  driven c;
  c.open();
  c.request_arrives();
  c.take(c.fsm.input(c.now));
  const auto action = c.take(c.fsm.input_handled(c.now, true, true));
  EXPECT_EQ(action.what, kind::pause_reading);
  EXPECT_EQ(action.until, c.now + connection_fsm::longest_read_pause);
}

TEST(ConnectionFsm, AnEarlyOrStaleTimerFiringChangesNothing) {
  driven c;
  c.open();
  c.now += 4s;
  const auto action = c.take(c.fsm.timer_fired(c.now));
  EXPECT_EQ(action.what, kind::none);
  ASSERT_TRUE(action.wake_at.has_value()) << "the fired timer is armed again";
  EXPECT_EQ(*action.wake_at, c.now + 6s);
  EXPECT_TRUE(c.closes.empty());
}

TEST(ConnectionFsm, KeepAliveRequestsDoNotMoveTheTimer) {
  driven c;
  c.open();
  const auto first = c.timer;
  for (int i = 0; i < 100; ++i) {
    c.now += 1ms;
    c.take(c.fsm.input(c.now));
    EXPECT_FALSE(c.fsm.request_begun().wake_at.has_value());
    EXPECT_FALSE(c.fsm.request_started().wake_at.has_value());
    EXPECT_FALSE(c.fsm.input_handled(c.now, true, false).wake_at.has_value());
    EXPECT_FALSE(c.fsm.request_released(c.now, true).wake_at.has_value());
    EXPECT_FALSE(c.fsm.last_records_out(c.now, true, false).wake_at.has_value());
  }
  EXPECT_EQ(c.timer, first) << "set once; it fires, and is set again from the last request's end";
  c.advance(10s - 100ms);
  EXPECT_TRUE(c.closes.empty());
  EXPECT_EQ(c.timer, c.now + 100ms);
  c.advance(100ms);
  EXPECT_EQ(c.closes, std::vector{close_reason::idle_timeout});
}

}  // namespace
}  // namespace fcgihost::host
