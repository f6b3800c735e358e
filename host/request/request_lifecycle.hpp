// One request's lifecycle, without any I/O: the phase it is in, its
// deadline, its FCGI_STDIN queue with backpressure, the output held back
// while the body arrives, the check of the CGI header block, and the one way
// it ends. The driver (request_session) hands it each event (params
// complete, stdin, output, the runner's end, the timer, an abort, the peer
// gone, a write's start and end) with resume(), and does the action it
// returns: send, hold or drop an output, release the held output, re-arm the
// timer, or finalize: the request has ended, and finalize is returned once.
// In the style of Boost.Redis's reader_fsm/exec_fsm, so every race between
// those events is tested without a socket (tests/unit/request_lifecycle_test.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <fcgihost/protocol/record.hpp>
#include <fcgihost/protocol/response_head.hpp>
#include <fcgihost/protocol/response_status.hpp>
#include <runners/common/run_result.hpp>

#include <host/common/request_outcome.hpp>
#include <host/request/byte_spool.hpp>

namespace fcgihost::host {

struct lifecycle_settings {
  std::uint16_t request_id = 1;
  std::uint64_t max_body_bytes = 0;  // 0: no limit
  bool full_duplex = false;          // output may go out before the body has ended
  int timeout_status = 408;          // or 504
  std::size_t stdin_memory_limit = 1024 * 1024;
  // A 1 MiB response, with room for its record headers and CGI headers.
  std::size_t held_output_memory_limit = 1024 * 1024 + 64 * 1024;
};

// How the request ends; decided once, taken by the driver once.
struct request_ending {
  request_outcome outcome = request_outcome::done;
  int app_status = 0;
  std::string response_if_silent = {};  // our own answer, sent when no stdout went out yet
  std::string runner_stderr = {};       // the runner's last stderr (logged like all its stderr)
  std::string host_stderr = {};         // our own note for the web server's error log
  std::string last_stdout = {};         // the runner's last output
  std::string log_message = {};         // why, for the host's log; empty: nothing to say
  bool log_as_error = false;
  bool runner_crashed = false;  // the process running it died (a crash on the status page)
  // Not request_complete: END_REQUEST alone, with this protocol status.
  protocol::protocol_status protocol_status = protocol::protocol_status::request_complete;
};

// The bytes that end a response, or that it cannot end cleanly.
struct final_records {
  std::string bytes;
  // Close the connection without END_REQUEST: the response is incomplete
  // and must not look whole (nginx: "upstream prematurely closed"). `bytes`
  // then hold an invalid record to write first (see compose_final_records).
  bool close_connection = false;
  bool write = true;  // false: the connection is gone, nothing to write
};

// What the runner's stdout looked like when the request ended.
struct output_state {
  bool stdout_started = false;  // stdout bytes reached the web server
  bool stderr_started = false;
};

// The last records of a response (a pure function). Our own answer replaces
// the runner's output only while no stdout went out; when the request did not
// finish its response (timeout, failure) after stdout went out, and it is alone
// on its connection (every nginx and Apache connection), the connection is
// closed instead, so the cut shows.
final_records compose_final_records(std::uint16_t request_id, const request_ending& ending, output_state output,
                                    bool alone_on_connection);
// What compose_final_records() will decide, without composing the bytes.
final_records final_disposition(const request_ending& ending, output_state output, bool alone_on_connection);

// What happens to a request, as the driver tells it.
namespace lifecycle_event {
// PARAMS are complete and a runner starts: the route's timeout (zero: none)
// replaces the default one, still from BEGIN_REQUEST.
struct params_complete {
  std::chrono::milliseconds timeout;
};
// Nothing runs: our own answer, `body` under the status line for `status`.
struct refused {
  int status;
  request_outcome outcome;
  std::string body, host_stderr, why;
};
// No request slot is free: END_REQUEST with FCGI_OVERLOADED.
struct overloaded {};
// The host answers the request itself (ping, status): `response` is a whole
// CGI response.
struct answered_by_host {
  int status;
  std::string response;
};
// A chunk of FCGI_STDIN from the web server; empty: the end of the stream.
struct stdin_chunk {
  std::string_view bytes;
};
// The runner's bytes.
struct runner_output {
  runners::output_stream stream;
  std::string_view bytes;
};
struct write_started {};
// A write of this stream is going to the socket now (it has started).
struct output_sending {
  runners::output_stream stream;
};
struct write_finished {
  bool ok;
};
struct runner_done {
  runners::run_result result;
};
// The timer armed for deadline() fired (or a wake-up at `now`).
struct timer_fired {
  std::chrono::steady_clock::time_point now;
};
// ABORT_REQUEST from the web server.
struct aborted {};
// From now on the runner's output goes nowhere (its writes fail), but the
// request ends only when the runner does: a worker's host stopped it.
struct output_discarded {};
// The connection is gone.
struct peer_gone {};
// Something inside the host failed for this request (a spool file).
struct host_failed {
  std::string why;
};
}  // namespace lifecycle_event

using lifecycle_event_type =
    std::variant<lifecycle_event::params_complete, lifecycle_event::refused, lifecycle_event::overloaded,
                 lifecycle_event::answered_by_host, lifecycle_event::stdin_chunk, lifecycle_event::runner_output,
                 lifecycle_event::write_started, lifecycle_event::output_sending, lifecycle_event::write_finished,
                 lifecycle_event::runner_done, lifecycle_event::timer_fired, lifecycle_event::aborted,
                 lifecycle_event::output_discarded, lifecycle_event::peer_gone, lifecycle_event::host_failed>;

// What the driver does after an event.
struct [[nodiscard]] lifecycle_action {
  enum class kind {
    none,
    send,                 // runner_output: write it now, after the held output
    hold,                 // runner_output: it waits here (the body or the CGI head is not complete)
    drop,                 // runner_output: the request is over, it goes nowhere
    release_held_output,  // the held output may go out now
    rearm_timer,          // the deadline has not come yet (it moved): wake at deadline()
    finalize,             // the request has ended: take_ending() and write its last records (once)
  };
  kind what = kind::none;
  bool operator==(kind other) const { return what == other; }
};

class request_lifecycle {
 public:
  using clock = std::chrono::steady_clock;
  enum class phase { receiving_params, running, settling, ending, ended };

  // `timeout` (zero: none) runs from `began`, the BEGIN_REQUEST.
  request_lifecycle(lifecycle_settings settings, clock::time_point began, std::chrono::milliseconds timeout);

  phase current_phase() const { return phase_; }
  bool over() const { return phase_ >= phase::ending || ending_.has_value(); }
  clock::time_point deadline() const { return deadline_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // The one way in: what the driver must do after `event`.
  lifecycle_action resume(lifecycle_event_type event);

  // What serves the request, for the log and the messages ("function" or
  // "script", and the name asked for).
  void name_target(std::string runner_name, std::string target_name);

  // --- FCGI_STDIN ---
  // Up to `max` bytes for the runner; empty when nothing is waiting.
  std::string take_stdin(std::size_t max);
  bool stdin_ended() const { return stdin_ended_; }
  bool stdin_waiting() const { return !stdin_.empty(); }
  bool stdin_on_disk() const { return stdin_.spooled_bytes() > 0; }
  // Enough stdin waits that the connection may stop reading for a while.
  bool stdin_backlogged() const;
  // The runner did not take its backlog in time: do not pause for it again.
  void stop_backpressure() { backpressure_ = false; }

  // --- output ---
  bool output_releasable() const;
  bool has_held_output() const { return !held_output_.empty(); }
  bool held_output_on_disk() const { return held_output_.spooled_bytes() > 0; }
  // Held records to send, up to `max` bytes (only while output_releasable()).
  std::string take_held_output(std::size_t max);
  bool writes_in_flight() const { return writes_in_flight_ > 0; }

  // --- the end ---
  // After finalize: the ending, once. Held output is dropped when our own
  // answer replaces it.
  request_ending take_ending();
  void finished() { phase_ = phase::ended; }

  output_state output() const { return {stdout_started_, stderr_started_}; }
  // The HTTP status the client got, 0 when it got no response (for the access line).
  int logged_status() const { return stdout_started_ || ending_answers_ ? status_.status() : 0; }
  std::uint64_t stdout_bytes() const { return stdout_bytes_; }
  std::uint64_t stdin_bytes() const { return stdin_bytes_; }  // arrived so far
  const std::string& runner_name() const { return runner_name_; }
  const std::string& target_name() const { return target_name_; }

 private:
  // The events, one verb each (see lifecycle_event).
  void start_running(std::chrono::milliseconds timeout);
  void refuse(int status, request_outcome outcome, std::string body, std::string host_stderr, std::string why);
  void refuse_overloaded();
  void answer_from_host(int status, std::string response);
  // True when the held output may go out now.
  bool stdin_arrived(std::string_view bytes);
  // send, hold or drop.
  lifecycle_action::kind output(runners::output_stream stream, std::string_view bytes);
  void write_finished(bool ok);
  void runner_done(runners::run_result result);
  void deadline_reached(clock::time_point now);
  void abort_requested();
  void peer_gone();
  void host_failure(std::string why);
  // The action after an event that was not an output, and `otherwise` when
  // it did not end the request; finalize only once.
  lifecycle_action after(lifecycle_action::kind otherwise);
  void end(request_ending ending);
  void end_run(runners::run_result result);
  void end_with_answer(request_outcome outcome, int status, std::string body);
  bool head_blocks_output() const;

  const lifecycle_settings settings_;
  const clock::time_point began_;
  std::chrono::milliseconds timeout_;
  clock::time_point deadline_;
  phase phase_ = phase::receiving_params;
  std::optional<request_ending> ending_;
  bool finalize_told_ = false;  // the driver was told to finalize
  std::optional<runners::run_result> settled_result_;  // the runner's end, waiting for its writes
  std::string runner_name_ = "-";
  std::string target_name_ = "-";

  byte_spool stdin_;
  std::uint64_t stdin_bytes_ = 0;
  bool stdin_ended_ = false;
  bool backpressure_ = true;

  // Encoded records, so stdout and stderr keep their order.
  byte_spool held_output_;
  bool held_stdout_ = false;
  bool held_stderr_ = false;
  bool stdout_started_ = false;
  bool output_discarded_ = false;
  bool stderr_started_ = false;
  bool ending_answers_ = false;  // the last records carry stdout
  std::size_t writes_in_flight_ = 0;
  std::uint64_t stdout_bytes_ = 0;
  protocol::response_head_check head_;
  protocol::response_status status_;
};

}  // namespace fcgihost::host
