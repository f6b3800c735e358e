// The request lifecycle as event sequences, with no socket: every race
// between its ends, the deadline from BEGIN_REQUEST, held output, the CGI
// head check, the actions it returns (finalize exactly once), and the last
// records it composes.
#include <host/request/request_lifecycle.hpp>

#include <fcgihost/protocol/encoder.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "../support/transcript.hpp"

namespace fcgihost::host {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using runners::output_stream;
using action = lifecycle_action::kind;
namespace ev = lifecycle_event;

const clock_type::time_point t0 = clock_type::time_point(std::chrono::hours(1));

lifecycle_settings settings_for_test() {
  lifecycle_settings settings;
  settings.request_id = 3;
  settings.max_body_bytes = 1000;
  return settings;
}

// A lifecycle driven as the session drives it: each event through resume(),
// each action noted. Its ending may be taken only after it said finalize,
// and it says finalize once.
class driven {
 public:
  driven(lifecycle_settings settings, clock_type::time_point began, std::chrono::milliseconds timeout)
      : life_(settings, began, timeout) {}

  action resume(lifecycle_event_type event) {
    const action next = life_.resume(std::move(event)).what;
    if (next == action::finalize) ++finalizes_;
    EXPECT_LE(finalizes_, 1) << "finalize said twice";
    return next;
  }
  // The events by name, as the tests read best.
  void start_running(std::chrono::milliseconds timeout) { resume(ev::params_complete{timeout}); }
  void refuse_overloaded() { resume(ev::overloaded{}); }
  bool stdin_arrived(std::string_view bytes) { return resume(ev::stdin_chunk{bytes}) == action::release_held_output; }
  action output(output_stream stream, std::string_view bytes) { return resume(ev::runner_output{stream, bytes}); }
  void stdout_sending() { resume(ev::output_sending{output_stream::out}); }
  void write_started() { resume(ev::write_started{}); }
  void write_finished(bool ok) { resume(ev::write_finished{ok}); }
  void runner_done(runners::run_result result) { resume(ev::runner_done{std::move(result)}); }
  void deadline_reached(clock_type::time_point now) { resume(ev::timer_fired{now}); }
  void abort_requested() { resume(ev::aborted{}); }
  void peer_gone() { resume(ev::peer_gone{}); }

  // The ending was decided and finalize said, and the driver has not taken it yet.
  bool ending_ready() const { return finalizes_ == 1 && life_.current_phase() < request_lifecycle::phase::ending; }
  int finalizes() const { return finalizes_; }
  request_ending take_ending() {
    EXPECT_TRUE(ending_ready()) << "an ending taken without finalize";
    return life_.take_ending();
  }

  void name_target(std::string runner, std::string target) { life_.name_target(std::move(runner), std::move(target)); }
  request_lifecycle::phase current_phase() const { return life_.current_phase(); }
  clock_type::time_point deadline() const { return life_.deadline(); }
  output_state output() const { return life_.output(); }
  bool output_releasable() const { return life_.output_releasable(); }
  bool has_held_output() const { return life_.has_held_output(); }
  std::string take_held_output(std::size_t max) { return life_.take_held_output(max); }
  int logged_status() const { return life_.logged_status(); }
  bool stdin_backlogged() const { return life_.stdin_backlogged(); }
  bool stdin_waiting() const { return life_.stdin_waiting(); }
  std::string take_stdin(std::size_t max) { return life_.take_stdin(max); }
  void stop_backpressure() { life_.stop_backpressure(); }

 private:
  request_lifecycle life_;
  int finalizes_ = 0;
};

// A lifecycle whose PARAMS arrived and whose runner (a function) started.
driven running(lifecycle_settings settings = settings_for_test(), std::chrono::milliseconds timeout = 2s) {
  driven life(settings, t0, 30s);
  life.name_target("function", "demo.run");
  life.start_running(timeout);
  return life;
}

runners::run_result finished_with(std::string last_stdout, int status = 0) {
  runners::run_result result;
  result.app_status = status;
  result.last_stdout = std::move(last_stdout);
  return result;
}

// What the web server would see of the last records.
std::vector<std::string> transcript_of(const final_records& records) {
  return test::decode_all(records.bytes).lines;
}

TEST(RequestLifecycle, ADeadlineRunsFromBeginRequestWhilePramsAreAwaited) {
  driven life(settings_for_test(), t0, 5s);
  EXPECT_EQ(life.deadline(), t0 + 5s);
  life.deadline_reached(t0 + 4999ms);
  EXPECT_FALSE(life.ending_ready());
  life.deadline_reached(t0 + 5s);
  ASSERT_TRUE(life.ending_ready());
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::timeout);
  EXPECT_EQ(ending.app_status, 408);
  EXPECT_NE(ending.log_message.find("PARAMS had not all arrived"), std::string::npos) << ending.log_message;
  const auto last = compose_final_records(3, ending, life.output(), true);
  EXPECT_FALSE(last.close_connection);
  const auto lines = transcript_of(last);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.front().find("Status: 408 Request Timeout"), std::string::npos) << lines.front();
  EXPECT_EQ(lines.back(), "END_REQUEST 3 app 408 protocol 0");
}

TEST(RequestLifecycle, TheRouteTimeoutStillCountsFromBeginRequest) {
  driven life(settings_for_test(), t0, 30s);
  life.start_running(500ms);
  EXPECT_EQ(life.deadline(), t0 + 500ms);
  driven none(settings_for_test(), t0, 0ms);
  EXPECT_EQ(none.deadline(), clock_type::time_point::max());
}

TEST(RequestLifecycle, ParamsArrivingAfterTheEndStartNothing) {
  driven life(settings_for_test(), t0, 1s);
  life.deadline_reached(t0 + 1s);
  life.start_running(30s);
  EXPECT_EQ(life.current_phase(), request_lifecycle::phase::receiving_params);
  EXPECT_EQ(life.deadline(), t0 + 1s);
  EXPECT_EQ(life.take_ending().outcome, request_outcome::timeout);
  EXPECT_EQ(life.output(output_stream::out, "Status: 200 OK\r\n\r\n"), action::drop);
}

TEST(RequestLifecycle, TimeoutStatusMayBe504) {
  auto settings = settings_for_test();
  settings.timeout_status = 504;
  auto life = running(settings);
  life.deadline_reached(t0 + 2s);
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.app_status, 504);
  EXPECT_TRUE(ending.response_if_silent.starts_with("Status: 504 Gateway Timeout\r\n"));
}

TEST(RequestLifecycle, OutputIsHeldUntilTheBodyEndsThenReleased) {
  auto life = running();
  EXPECT_EQ(life.output(output_stream::out, "Status: 201 Created\r\n\r\nbody"), action::hold);
  EXPECT_EQ(life.output(output_stream::err, "a warning"), action::hold);
  EXPECT_FALSE(life.output_releasable());
  EXPECT_EQ(life.take_held_output(1 << 20), "") << "nothing leaves before the body has ended";
  EXPECT_TRUE(life.stdin_arrived(""));  // the end of FCGI_STDIN: held output may go
  const auto held = test::decode_all(life.take_held_output(1 << 20)).lines;
  EXPECT_EQ(held, (std::vector<std::string>{"STDOUT 3 data Status: 201 Created\r\n\r\nbody", "STDERR 3 data a warning"}));
  EXPECT_TRUE(life.output().stdout_started);
  EXPECT_EQ(life.output(output_stream::out, " more"), action::send);
  life.runner_done(finished_with(""));
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::done);
  EXPECT_EQ(life.logged_status(), 201);
  EXPECT_EQ(transcript_of(compose_final_records(3, ending, life.output(), true)),
            (std::vector<std::string>{"STDOUT 3 end", "STDERR 3 end", "END_REQUEST 3 app 0 protocol 0"}));
}

TEST(RequestLifecycle, FullDuplexSendsOnceTheHeadIsValid) {
  auto settings = settings_for_test();
  settings.full_duplex = true;
  auto life = running(settings);
  EXPECT_EQ(life.output(output_stream::out, "Content-Type: te"), action::hold) << "the head is not protocol 0";
  EXPECT_EQ(life.output(output_stream::err, "early"), action::hold) << "behind held stdout";
  EXPECT_EQ(life.output(output_stream::out, "xt/plain\r\n\r\nhi"), action::send);
  EXPECT_TRUE(life.output_releasable());
  EXPECT_TRUE(life.has_held_output());
}

TEST(RequestLifecycle, AHeadThatIsNotCgiIs502AndNothingGoesOut) {
  auto life = running();
  EXPECT_EQ(life.output(output_stream::out, "<html>hello</html>\n"), action::finalize) << "dropped, and the end";
  ASSERT_TRUE(life.ending_ready());
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::bad_response);
  EXPECT_EQ(ending.app_status, 502);
  EXPECT_NE(ending.host_stderr.find("<html>hello</html>"), std::string::npos) << ending.host_stderr;
  EXPECT_NE(ending.log_message.find("handler sent no valid CGI response"), std::string::npos) << ending.log_message;
  EXPECT_FALSE(life.has_held_output());
  const auto lines = transcript_of(compose_final_records(3, ending, life.output(), true));
  EXPECT_NE(lines.front().find("Status: 502 Bad Gateway"), std::string::npos);
}

TEST(RequestLifecycle, OutputWithoutTheBlankLineIs502WhenTheRunnerEnds) {
  auto life = running();
  life.runner_done(finished_with("Content-Type: text/plain\r\nno blank line"));
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::bad_response);
  EXPECT_NE(ending.log_message.find("ended before the blank line"), std::string::npos) << ending.log_message;
}

TEST(RequestLifecycle, NoOutputAtAllIs502) {
  auto life = running();
  life.runner_done(finished_with(""));
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::bad_response);
  EXPECT_NE(ending.log_message.find("wrote no response"), std::string::npos) << ending.log_message;
}

TEST(RequestLifecycle, ABodyOverTheLimitIs413AndDropsWhatWasHeld) {
  auto life = running();
  life.output(output_stream::out, "Content-Type: text/plain\r\n\r\n");
  life.stdin_arrived(std::string(600, 'a'));
  EXPECT_FALSE(life.ending_ready());
  life.stdin_arrived(std::string(401, 'a'));
  ASSERT_TRUE(life.ending_ready());
  EXPECT_EQ(life.output(output_stream::out, "late"), action::drop);
  life.runner_done(finished_with("too late"));
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::body_too_large);
  EXPECT_EQ(ending.app_status, 413);
  EXPECT_FALSE(life.has_held_output());
  EXPECT_EQ(life.take_stdin(1 << 20), "");
}

TEST(RequestLifecycle, TheRunnersLastWritesGoOutBeforeItsResult) {
  auto life = running();
  life.stdin_arrived("");
  EXPECT_EQ(life.output(output_stream::out, "Content-Type: text/plain\r\n\r\n"), action::send);
  life.write_started();
  life.runner_done(finished_with("tail"));
  EXPECT_EQ(life.current_phase(), request_lifecycle::phase::settling);
  EXPECT_FALSE(life.ending_ready());
  life.write_finished(true);
  ASSERT_TRUE(life.ending_ready());
  EXPECT_EQ(life.take_ending().last_stdout, "tail");
}

TEST(RequestLifecycle, ADeadlineWhileWritesSettleIsATimeout) {
  auto life = running();
  life.stdin_arrived("");
  life.output(output_stream::out, "Content-Type: text/plain\r\n\r\n");
  life.stdout_sending();
  life.write_started();
  life.runner_done(finished_with(""));
  life.deadline_reached(t0 + 2s);
  const auto ending = life.take_ending();
  EXPECT_EQ(ending.outcome, request_outcome::timeout);
  EXPECT_TRUE(compose_final_records(3, ending, life.output(), true).close_connection);
}

TEST(RequestLifecycle, ATimeoutAfterOutputStartedCutsTheResponseWhenAlone) {
  auto life = running();
  life.stdin_arrived("");
  life.output(output_stream::out, "Content-Type: text/plain\r\n\r\nline 1\n");
  life.stdout_sending();
  life.deadline_reached(t0 + 2s);
  const auto ending = life.take_ending();
  EXPECT_NE(ending.log_message.find("the response is cut"), std::string::npos) << ending.log_message;
  const auto alone = compose_final_records(3, ending, life.output(), true);
  EXPECT_TRUE(alone.close_connection);
  // Before the close, a record of FastCGI version 0 and type 0: an error for
  // nginx, even with fastcgi_keep_conn off (a bare close ends a response
  // there), and skipped by HAProxy, which then takes the close as an error.
  EXPECT_EQ(alone.bytes, std::string("\x00\x00\x00\x03\x00\x00\x00\x00", 8));
  // Multiplexed: the other requests must go on, so END_REQUEST says 408.
  const auto shared = compose_final_records(3, ending, life.output(), false);
  EXPECT_FALSE(shared.close_connection);
  EXPECT_EQ(transcript_of(shared), (std::vector<std::string>{"STDOUT 3 end", "END_REQUEST 3 app 408 protocol 0"}));
}

TEST(RequestLifecycle, AFailureAfterOutputStartedCutsTooButAnAbortDoesNot) {
  auto life = running();
  life.stdin_arrived("");
  life.output(output_stream::out, "Content-Type: text/plain\r\n\r\n");
  life.stdout_sending();
  runners::run_result failed;
  failed.failure = "boom";
  life.runner_done(failed);
  EXPECT_TRUE(compose_final_records(3, life.take_ending(), life.output(), true).close_connection);

  auto aborted = running();
  aborted.stdin_arrived("");
  aborted.output(output_stream::out, "Content-Type: text/plain\r\n\r\n");
  aborted.stdout_sending();
  aborted.abort_requested();
  const auto ending = aborted.take_ending();
  EXPECT_EQ(ending.app_status, 499);
  EXPECT_FALSE(compose_final_records(3, ending, aborted.output(), true).close_connection);
}

// A runner whose process died is a 502 and says so (the status page counts
// it as a crash); a handler that failed is a 500.
TEST(RequestLifecycle, ACrashIsTold502AndAFailure500) {
  for (const bool crashed : {true, false}) {
    auto life = running();
    life.stdin_arrived("");
    runners::run_result result;
    result.failure = "gone";
    result.crashed = crashed;
    life.runner_done(result);
    const auto ending = life.take_ending();
    EXPECT_EQ(ending.runner_crashed, crashed);
    EXPECT_EQ(ending.app_status, crashed ? 502 : 500);
  }
}

TEST(RequestLifecycle, AtTheDeadlineHeldOutputAndStdinAreReleased) {
  auto life = running();
  life.stdin_arrived(std::string(900, 'b'));
  life.output(output_stream::out, "Content-Type: text/plain\r\n\r\n" + std::string(100000, 'x'));
  EXPECT_TRUE(life.has_held_output());
  life.deadline_reached(t0 + 2s);
  life.take_ending();
  EXPECT_FALSE(life.has_held_output());
  EXPECT_FALSE(life.stdin_waiting());
  EXPECT_EQ(life.output(output_stream::out, "more"), action::drop);
}

TEST(RequestLifecycle, AGonePeerGetsNothingWritten) {
  auto life = running();
  life.peer_gone();
  const auto last = compose_final_records(3, life.take_ending(), life.output(), true);
  EXPECT_FALSE(last.write);
  EXPECT_TRUE(last.bytes.empty());
}

TEST(RequestLifecycle, AFailedWriteClosesTheConnection) {
  auto life = running();
  life.write_started();
  life.write_finished(false);
  const auto last = compose_final_records(3, life.take_ending(), life.output(), false);
  EXPECT_FALSE(last.write);
  EXPECT_TRUE(last.close_connection);
}

TEST(RequestLifecycle, OverloadedIsEndRequestAlone) {
  driven life(settings_for_test(), t0, 30s);
  life.refuse_overloaded();
  const auto last = compose_final_records(3, life.take_ending(), life.output(), true);
  EXPECT_EQ(transcript_of(last), (std::vector<std::string>{"END_REQUEST 3 app 0 protocol 2"}));
}

TEST(RequestLifecycle, StdinBacklogPausesReadingUntilBackpressureStops) {
  auto life = running();
  life.stdin_arrived(std::string(400, 'a'));
  EXPECT_FALSE(life.stdin_backlogged());
  auto big = settings_for_test();
  big.max_body_bytes = 0;
  big.stdin_memory_limit = 1000;
  auto paused = running(big);
  paused.stdin_arrived(std::string(500, 'a'));
  EXPECT_TRUE(paused.stdin_backlogged());
  paused.stop_backpressure();
  EXPECT_FALSE(paused.stdin_backlogged());
  EXPECT_EQ(paused.take_stdin(1 << 20).size(), 500u);
}

// Every order of the events that can end a request: the first one decides,
// and the request ends exactly once.
TEST(RequestLifecycle, TheFirstEndWinsInEveryOrder) {
  struct event {
    const char* name;
    std::function<void(driven&)> apply;
    request_outcome outcome;
  };
  const std::vector<event> events{
      {"deadline", [](driven& l) { l.deadline_reached(t0 + 2s); }, request_outcome::timeout},
      {"abort", [](driven& l) { l.abort_requested(); }, request_outcome::aborted},
      {"body too large", [](driven& l) { l.stdin_arrived(std::string(1001, 'a')); },
       request_outcome::body_too_large},
      {"runner done", [](driven& l) { l.runner_done(finished_with("Status: 200 OK\r\n\r\n")); },
       request_outcome::done},
      {"write failed",
       [](driven& l) {
         l.write_started();
         l.write_finished(false);
       },
       request_outcome::write_failed},
      {"peer gone", [](driven& l) { l.peer_gone(); }, request_outcome::connection_lost},
  };
  std::vector<std::size_t> order(events.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  int orders = 0;
  do {
    auto life = running();
    for (const auto index : order) life.output(output_stream::err, "noise"), events[index].apply(life);
    ASSERT_TRUE(life.ending_ready());
    const auto ending = life.take_ending();
    EXPECT_EQ(ending.outcome, events[order.front()].outcome) << "first event: " << events[order.front()].name;
    EXPECT_FALSE(life.ending_ready()) << "ended twice";
    life.deadline_reached(t0 + 10s);
    life.abort_requested();
    EXPECT_FALSE(life.ending_ready()) << "ended again after its end";
    EXPECT_EQ(life.finalizes(), 1);
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(orders, 720);
}

// The actions besides finalize: a timer that fires before the deadline (it
// moved) is re-armed; a route's own timeout re-arms it; the end of the body
// releases held output; the request's end is said once, and an output after
// it is dropped.
TEST(LifecycleActions, TheTimerIsReArmedUntilTheDeadline) {
  driven life(settings_for_test(), t0, 1s);
  EXPECT_EQ(life.resume(ev::params_complete{5s}), action::rearm_timer) << "the route's own timeout";
  EXPECT_EQ(life.deadline(), t0 + 5s);
  EXPECT_EQ(life.resume(ev::timer_fired{t0 + 1s}), action::rearm_timer) << "woken for the old deadline";
  EXPECT_EQ(life.resume(ev::timer_fired{t0 + 5s}), action::finalize);
  EXPECT_EQ(life.resume(ev::timer_fired{t0 + 6s}), action::none);
  driven same(settings_for_test(), t0, 5s);
  EXPECT_EQ(same.resume(ev::params_complete{5s}), action::none) << "the deadline did not move";
}

TEST(LifecycleActions, TheEndOfTheBodyReleasesHeldOutput) {
  auto life = running();
  EXPECT_EQ(life.output(output_stream::out, "Content-Type: text/plain\r\n\r\nx"), action::hold);
  EXPECT_EQ(life.resume(ev::stdin_chunk{"abc"}), action::none);
  EXPECT_EQ(life.resume(ev::stdin_chunk{""}), action::release_held_output);
  EXPECT_EQ(life.output(output_stream::out, "y"), action::send);
}

TEST(LifecycleActions, FinalizeIsSaidOnceAndLaterOutputIsDropped) {
  auto life = running();
  life.stdin_arrived("");
  life.write_started();
  EXPECT_EQ(life.resume(ev::runner_done{finished_with("Status: 200 OK\r\n\r\n")}), action::none)
      << "its last write is still going out";
  EXPECT_EQ(life.resume(ev::aborted{}), action::finalize) << "the abort came first";
  EXPECT_EQ(life.resume(ev::write_finished{true}), action::none);
  EXPECT_EQ(life.output(output_stream::out, "late"), action::drop);
  EXPECT_EQ(life.resume(ev::peer_gone{}), action::none);
  EXPECT_EQ(life.take_ending().outcome, request_outcome::aborted);
  EXPECT_EQ(life.finalizes(), 1);
}

TEST(LifecycleActions, EveryEndBeforeParamsSaysFinalize) {
  for (int which = 0; which < 4; ++which) {
    driven life(settings_for_test(), t0, 1s);
    const action next = which == 0   ? life.resume(ev::overloaded{})
                        : which == 1 ? life.resume(ev::refused{404, request_outcome::not_found, "Not found\n", "", "404: none"})
                        : which == 2 ? life.resume(ev::answered_by_host{200, "Status: 200\r\n\r\npong\n"})
                                     : life.resume(ev::host_failed{"a spool file"});
    EXPECT_EQ(next, action::finalize) << which;
  }
}

}  // namespace
}  // namespace fcgihost::host
