#include "connection_fsm.hpp"

#include <algorithm>

namespace fcgihost::host {

using kind = connection_action::kind;

connection_fsm::connection_fsm(connection_timeouts timeouts, time_point now)
    : timeouts_(timeouts), last_activity_(now) {}

// A connection with a request running has no read limit (the request's
// deadline governs the wait for its body); one stopped in the middle of a
// record or of a request's PARAMS has --read-timeout; one with nothing in
// flight has --idle-timeout. Each runs from the last activity.
connection_fsm::limit_in_force connection_fsm::current_limit() const {
  if (started_ == 0 && mid_request()) return {timeouts_.read, close_reason::read_timeout};
  if (requests_ == 0) return {timeouts_.idle, close_reason::idle_timeout};
  return {};
}

connection_fsm::time_point connection_fsm::next_wake() const {
  return std::min({check_at_, first_request_by_, linger_until_});
}

// Every event may change which limit applies or from when: the check's time
// is worked out again, and the timer is moved only when it must fire sooner
// than it is set to. One that fires early finds nothing due and is set again
// (timer_fired), so a keep-alive connection's requests never touch the timer:
// re-arming it per request cost about 5% of a hello's throughput.
connection_action connection_fsm::with_wake(connection_action action) {
  if (phase_ == phase::reading) {
    const auto limit = current_limit().limit;
    check_at_ = limit.count() > 0 ? last_activity_ + limit : time_point::max();
  } else {
    check_at_ = time_point::max();
  }
  if (phase_ == phase::closed) first_request_by_ = linger_until_ = time_point::max();
  if (const auto wake = next_wake(); wake < armed_at_) {
    armed_at_ = wake;
    action.wake_at = wake;
  }
  return action;
}

connection_action connection_fsm::opened(time_point now, bool draining, bool input_waiting) {
  last_activity_ = now;
  // Accepted while the host drains (its acceptor closes soon after): served
  // like the others, then closed.
  if (draining) return drain(now, input_waiting);
  return with_wake({});
}

connection_action connection_fsm::input(time_point now) {
  if (phase_ != phase::reading) return {};  // lingering: input after our last response is dropped
  received_any_ = true;
  first_request_by_ = time_point::max();
  last_activity_ = now;
  return with_wake({});
}

connection_action connection_fsm::input_handled(time_point now, bool at_record_boundary, bool backlogged) {
  at_record_boundary_ = at_record_boundary;
  connection_action action;
  if (phase_ == phase::reading && backlogged) {
    action.what = kind::pause_reading;
    action.until = now + longest_read_pause;
  }
  return with_wake(action);
}

// Both come while input is handled: the timer is worked out once it all is
// (input_handled), not for the moment between a BEGIN_REQUEST and its PARAMS.
connection_action connection_fsm::request_begun() {
  ++requests_;
  return {};
}

connection_action connection_fsm::request_started() {
  ++started_;
  return {};
}

connection_action connection_fsm::set_timeouts(connection_timeouts timeouts) {
  timeouts_ = timeouts;
  return with_wake({});
}

connection_action connection_fsm::request_released(time_point now, bool was_started) {
  if (requests_ > 0) --requests_;
  if (was_started && started_ > 0) --started_;
  ++pending_last_records_;  // until last_records_out
  last_activity_ = now;
  return with_wake({});
}

connection_action connection_fsm::last_records_out(time_point now, bool keep_conn, bool input_waiting) {
  if (pending_last_records_ > 0) --pending_last_records_;
  if (!keep_conn) closing_ = true;  // the web server closes it after this request (FCGI_KEEP_CONN unset)
  if (closing_) return close_when_idle(now, input_waiting);
  return with_wake({});
}

connection_action connection_fsm::drain(time_point now, bool input_waiting) {
  closing_ = true;
  return close_when_idle(now, input_waiting);
}

// A closing connection with no request left closes (gracefully) unless its
// peer may have sent a request it has not read yet: one that arrived is
// served first (its end comes back here), and one just opened gets a moment
// for its first request (a web server connects, then writes; closing then
// loses that request).
connection_action connection_fsm::close_when_idle(time_point now, bool input_waiting) {
  // A request released but still writing its last records would lose them.
  if (requests_ > 0 || pending_last_records_ > 0 || phase_ != phase::reading || input_waiting) return with_wake({});
  if (!received_any_) {
    first_request_by_ = std::min(first_request_by_, now + first_request_grace);
    return with_wake({});
  }
  return start_lingering(now);
}

// Closing a socket that still has unread input makes TCP send a reset, which
// can destroy the response the web server has not read yet. So, as nginx's
// lingering close does: shut our side, read and drop until the peer closes,
// and close for good after a bounded wait.
connection_action connection_fsm::start_lingering(time_point now) {
  phase_ = phase::lingering;
  first_request_by_ = time_point::max();
  linger_until_ = now + linger_time;
  return with_wake({.what = kind::linger});
}

connection_action connection_fsm::timer_fired(time_point now) {
  armed_at_ = time_point::max();  // it fired: whatever comes next must be armed again
  if (phase_ == phase::closed) return {};
  if (phase_ == phase::lingering) {
    if (now >= linger_until_) return close(close_reason::linger_over);
    return with_wake({});
  }
  if (now >= first_request_by_) {
    first_request_by_ = time_point::max();
    if (requests_ == 0) return start_lingering(now);
  }
  if (const auto [limit, reason] = current_limit(); limit.count() > 0 && now - last_activity_ >= limit) {
    auto action = close(reason);
    action.limit = limit;
    return action;
  }
  return with_wake({});
}

connection_action connection_fsm::evict() {
  if (phase_ == phase::closed || started_ > 0) return {};  // it began a request meanwhile
  return close(close_reason::evicted);
}

connection_action connection_fsm::close(close_reason reason) {
  if (phase_ == phase::closed) return {};
  phase_ = phase::closed;
  return with_wake({.what = kind::close, .reason = reason});
}

}  // namespace fcgihost::host
