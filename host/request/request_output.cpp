// The session's side that writes: a runner's output as it comes (or held
// until the body has arrived), the held output let go, the last records, the
// one finalize, and the runner's stderr in the log. Members of
// request_session, kept apart from its dispatch and its events.
#include "request_session.hpp"

#include <host/request/held_output.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <fcgihost/protocol/stream_framing.hpp>


#include <host/request/request_report.hpp>
#include <host/request/run_time_record.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;

namespace {
// How long the last records of a request may take to go out after its
// deadline (or after now, if that is later): a web server that does not read
// them has its connection closed, so no request outlives its deadline by
// more than this.
constexpr auto last_write_grace = std::chrono::milliseconds(50);
}  // namespace

awaitable<void> send_held_output(request_lifecycle& lifecycle, request_sink& sink) {
  constexpr std::size_t piece_size = 256 * 1024;  // the largest piece sent in one write
  for (std::string piece = lifecycle.take_held_output(piece_size); !piece.empty();
       piece = lifecycle.take_held_output(piece_size)) {
    const std::vector<asio::const_buffer> buffers(1, asio::buffer(piece));
    co_await sink.write_now(buffers);
  }
}

awaitable<void> request_session::release_held_output() {
  auto self = shared_from_this();
  auto sink = sink_.lock();
  if (!sink) co_return;
  perform(lifecycle_.resume(lifecycle_event::write_started{}));
  bool ok = true;
  try {
    auto guard = co_await sink->acquire_writer();
    if (!lifecycle_.over()) co_await send_held_output(lifecycle_, *sink);
  } catch (const std::exception&) {
    ok = false;
  }
  perform(lifecycle_.resume(lifecycle_event::write_finished{ok}));
}

awaitable<bool> request_session::write(runners::output_stream stream, std::string_view bytes) {
  using kind = lifecycle_action::kind;
  const auto action = lifecycle_.resume(lifecycle_event::runner_output{stream, bytes});
  if ((action == kind::send || action == kind::hold) && stream == runners::output_stream::err) log_stderr(bytes);
  if (action != kind::send && action != kind::hold) {  // dropped (and maybe the request's end)
    perform(action);
    co_return false;
  }
  if (action == kind::hold) {
    if (!held_output_on_disk_logged_ && lifecycle_.held_output_on_disk()) {
      held_output_on_disk_logged_ = true;
      host_.log->debug("{} request {}: output held until the body has arrived now waits in a temporary file", peer_,
                       request_id_);
    }
    co_return true;
  }
  if (bytes.empty()) co_return true;
  auto self = shared_from_this();  // a runner may outlive its request
  auto sink = sink_.lock();
  if (!sink) co_return false;
  // Gathered: record headers around the caller's own bytes, no copy.
  const auto type =
      stream == runners::output_stream::out ? protocol::record_type::std_out : protocol::record_type::std_err;
  const protocol::gathered_records records(type, request_id_, bytes);
  std::vector<asio::const_buffer> buffers;
  for (const auto piece : records.pieces()) buffers.push_back(asio::buffer(piece));
  perform(lifecycle_.resume(lifecycle_event::write_started{}));
  bool ok = true;
  bool sent = false;
  try {
    auto guard = co_await sink->acquire_writer();
    if (!lifecycle_.over()) {  // else it ended while we waited: nothing after its end
      co_await send_held_output(lifecycle_, *sink);
      perform(lifecycle_.resume(lifecycle_event::output_sending{stream}));
      co_await sink->write_now(buffers);
      sent = true;
    }
  } catch (const std::exception&) {
    ok = false;  // the connection is broken: the lifecycle ends the request
  }
  perform(lifecycle_.resume(lifecycle_event::write_finished{ok}));
  co_return sent;
}

awaitable<void> request_session::finalize() {
  if (finalizing_) co_return;  // idempotent: the lifecycle says finalize once
  finalizing_ = true;
  auto self = shared_from_this();
  request_ending ending = lifecycle_.take_ending();
  // Everything the request holds goes now, whatever the last write does.
  slow_timer_.cancel();
  stop_.request_stop();
  stop_waiting_.try_send(error_code{});
  stdin_arrived_.cancel();
  stdin_arrived_.close();
  slot_.release();
  if (lifecycle_.writes_in_flight() && ending.outcome == request_outcome::timeout)
    host_.log->warn("{} request {} {}: stopped while writing to a client that does not read", peer_, request_id_,
                    script_);
  if (!ending.log_message.empty())
    host_.log->log(ending.log_as_error ? spdlog::level::err : spdlog::level::warn, "{} request {} {}: {}", peer_,
                   request_id_, script_, ending.log_message);
  if (!ending.runner_stderr.empty()) log_stderr(ending.runner_stderr);
  stderr_log_.finish([this](std::string_view line) { host_.log->warn("{} {}: stderr: {}", peer_, script_, line); });

  auto sink = sink_.lock();
  const bool alone = sink && sink->alone(request_id_);
  if (sink) sink->release_request(request_id_);
  final_records last;
  if (sink) last = co_await write_last_records(*sink, ending, alone);
  if (sink && last.close_connection) {
    if (ending.outcome != request_outcome::write_failed)
      host_.log->warn("{} request {} {}: closing the connection without END_REQUEST, so the web server sees the "
                      "response is incomplete", peer_, request_id_, script_);
    sink->tear_down(ending.outcome == request_outcome::write_failed ? close_reason::write_failed : close_reason::response_cut);
  }
  lifecycle_.finished();  // a timer still armed finds it ended
  host_answer_slot_.release();  // only now: its answer has been written (or its connection closed)
  report_request_end(host_, report(), ending);
  if (sink) sink->request_done(keep_conn_);
}

// The one decision of how the response ends (final_disposition) is made
// when its last records are composed, with the writer held: no write of the
// request is in flight then, so what went out is final. Before that, only
// whether to wait for the writer at all: a cut waits for no write that is
// stuck, since a peer that does not read sees the close at once.
awaitable<final_records> request_session::write_last_records(request_sink& sink, const request_ending& ending,
                                                              bool alone) {
  final_records last = final_disposition(ending, lifecycle_.output(), alone);
  if (!last.write || (last.close_connection && lifecycle_.writes_in_flight())) co_return last;
  // Bounded by the deadline timer, still armed: the last records get until
  // the deadline, and at least a short grace from now.
  const auto grace_end = std::chrono::steady_clock::now() + last_write_grace;
  if (lifecycle_.deadline() < grace_end) arm_timer(grace_end);
  try {
    auto guard = co_await sink.acquire_writer();
    last = compose_final_records(request_id_, ending, lifecycle_.output(), alone);
    if (!last.close_connection) {
      co_await send_held_output(lifecycle_, sink);
      if (flush_waits()) last.bytes.insert(0, run_time_record(request_id_, handler_ran_, ending.outcome));  // in a worker
    }
    // A cut from a worker reaches the host as the worker's own failure.
    if (!last.close_connection || !host_.in_worker) {
      const std::vector<asio::const_buffer> buffers(1, asio::buffer(last.bytes));
      co_await sink.write_now(buffers);
    }
  } catch (const std::exception& e) {
    host_.log->debug("{} request {}: END_REQUEST not sent: {}", peer_, request_id_, e.what());
  }
  co_return last;
}

void request_session::log_stderr(std::string_view bytes) {
  stderr_log_.feed(bytes, [this](std::string_view line) { host_.log->warn("{} {}: stderr: {}", peer_, script_, line); });
}

}  // namespace fcgihost::host
