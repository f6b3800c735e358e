// One connection's state, without any I/O: whether it reads, lingers or is
// closed, which of its timeouts applies, when it must wake next, and when it
// closes. The driver (connection) hands it each event (input, a request
// begun, started or released, its last records out, a drain, the timer, a
// backlog, a failure) and does the action it returns: nothing, pause
// reading, linger (shut our side and drop input), or close with a reason.
// An action also says when the connection's one timer must fire, when that
// is sooner than it is set to, so the read timeout, the idle timeout, the
// wait for a first request and the lingering close share it. Same shape as
// request_lifecycle, tested without a socket (tests/unit/connection_fsm_test.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include <host/common/close_reason.hpp>

namespace fcgihost::host {

struct connection_timeouts {
  std::chrono::milliseconds read{0};  // 0: none
  std::chrono::milliseconds idle{0};  // 0: none
};

struct connection_action {
  using time_point = std::chrono::steady_clock::time_point;
  enum class kind {
    none,
    pause_reading,  // stop reading until `until` or until the request takes its backlog
    linger,         // shut our side for sending, read and drop input
    close,          // tear down: end every request, close the socket
  };
  kind what = kind::none;
  close_reason reason = close_reason::peer_closed;  // for close
  time_point until{};                               // for pause_reading
  // The connection's timer must now fire at this time, sooner than it was
  // set to; empty: leave it as it is (firing early is harmless).
  std::optional<time_point> wake_at = std::nullopt;
  // For a timeout's close: the limit that expired.
  std::chrono::milliseconds limit{0};
};

class connection_fsm {
 public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  enum class phase {
    reading,    // serving
    lingering,  // our side is shut down after the last response; input is read and dropped
    closed,     // torn down
  };

  // How long reading waits for a runner to take its backlog of FCGI_STDIN.
  static constexpr auto longest_read_pause = std::chrono::milliseconds(100);
  // How long a closing connection reads and drops input.
  static constexpr auto linger_time = std::chrono::seconds(2);
  // How long a closing connection just opened waits for its first request.
  static constexpr auto first_request_grace = std::chrono::seconds(1);

  connection_fsm(connection_timeouts timeouts, time_point now);

  // The connection starts being served. `draining`: accepted while the host
  // drains, so it closes once idle. `input_waiting`: bytes are readable.
  [[nodiscard]] connection_action opened(time_point now, bool draining, bool input_waiting);
  // Bytes arrived (before they are decoded).
  [[nodiscard]] connection_action input(time_point now);
  // They were decoded and handled. `at_record_boundary`: the decoder holds no
  // partial record. `backlogged`: the only request's runner has not taken its
  // FCGI_STDIN yet (see connection::input_backlogged).
  [[nodiscard]] connection_action input_handled(time_point now, bool at_record_boundary, bool backlogged);
  // BEGIN_REQUEST accepted; its PARAMS complete. Only while input is
  // handled: input_handled() then says when the timer must fire.
  [[nodiscard]] connection_action request_begun();
  [[nodiscard]] connection_action request_started();
  // The limits in force now (a reload may change them).
  [[nodiscard]] connection_action set_timeouts(connection_timeouts timeouts);
  // A request left (its id is free); its last records are still going out.
  [[nodiscard]] connection_action request_released(time_point now, bool was_started);
  // A request's last records went out (or could not); or a refusal's.
  // `keep_conn` false: the web server closes the connection after it.
  [[nodiscard]] connection_action last_records_out(time_point now, bool keep_conn, bool input_waiting);
  // A refusal's END_REQUEST is being written (no request was begun for it).
  void refusal_pending() { ++pending_last_records_; }
  // The host drains: close once idle.
  [[nodiscard]] connection_action drain(time_point now, bool input_waiting);
  // The timer fired.
  [[nodiscard]] connection_action timer_fired(time_point now);
  // Another connection needs its place: closes it unless a request runs on it.
  [[nodiscard]] connection_action evict();
  // Anything that ends the connection now. Returns close once, then none.
  [[nodiscard]] connection_action close(close_reason reason);

  phase state() const { return phase_; }
  bool reading() const { return phase_ == phase::reading; }
  // It closes once no request is left (a drain, or a request without FCGI_KEEP_CONN).
  bool closing() const { return closing_; }

 private:
  // Which limit applies now (see connection_fsm.cpp), and the close it makes.
  struct limit_in_force {
    std::chrono::milliseconds limit{0};
    close_reason reason = close_reason::idle_timeout;
  };
  limit_in_force current_limit() const;
  bool mid_request() const { return !at_record_boundary_ || requests_ > started_; }
  connection_action close_when_idle(time_point now, bool input_waiting);
  connection_action start_lingering(time_point now);
  // Sets the check's time and says when the timer must fire, if that changed.
  connection_action with_wake(connection_action action);
  time_point next_wake() const;

  connection_timeouts timeouts_;
  phase phase_ = phase::reading;
  std::size_t requests_ = 0;
  std::size_t started_ = 0;
  // Requests released whose last records are still being written: the
  // connection is not idle until they are out.
  std::size_t pending_last_records_ = 0;
  bool at_record_boundary_ = true;
  bool closing_ = false;       // close once no request is left
  bool received_any_ = false;  // a byte has come: not a connection just opened
  time_point last_activity_;   // the last input, or the last request's end
  time_point check_at_ = time_point::max();          // when the timeouts are checked next
  time_point first_request_by_ = time_point::max();  // a fresh closing connection closes then
  time_point linger_until_ = time_point::max();
  time_point armed_at_ = time_point::max();  // what the driver's timer is set to
};

}  // namespace fcgihost::host
