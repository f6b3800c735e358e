#include "quick_request.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

#include <fcgihost/protocol/stream_framing.hpp>

#include <runners/function/handler_call.hpp>
#include <runners/worker/worker_protocol.hpp>

#include <host/request/held_output.hpp>
#include <host/request/lifecycle_settings_for.hpp>
#include <host/request/request_report.hpp>
#include <host/request/run_time_record.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;

namespace {
// A quick request's body is a small one: read_stdin() hands it over whole.
constexpr std::size_t small_body = runners::worker_protocol::small_body_bytes;
// Held output is taken from its spool in pieces of this size.
constexpr std::size_t held_output_piece = 256 * 1024;
}  // namespace

quick_request::quick_request(std::weak_ptr<quick_lane_owner> owner, asio::any_io_executor strand, request_context& host,
                             std::string peer, const host_config& settings, std::uint16_t id, bool keep_conn,
                             runners::run_order::ticket ticket)
    : owner_(std::move(owner)),
      strand_(std::move(strand)),
      host_(host),
      peer_(std::move(peer)),
      id_(id),
      keep_conn_(keep_conn),
      ticket_(ticket),
      lifecycle_(lifecycle_settings_for(settings, id), began_, settings.timeout) {}

quick_request::~quick_request() { release_ticket(); }

void quick_request::release_ticket() {
  if (!ticket_held_) return;
  ticket_held_ = false;
  host_.in_worker->run_order->release(ticket_);
}

void quick_request::start(protocol::name_value_list params, runners::bound_handler handler) {
  started_ = true;
  params_ = std::move(params);
  handler_ = std::move(handler);
  script_ = host_.in_worker->plugin + "." + handler_.handler_name;
}

bool quick_request::push_stdin(std::string_view bytes) {
  if (bytes.empty()) {
    stdin_ended_ = true;
    return true;
  }
  body_.append(bytes);
  return body_.size() <= small_body;
}

void quick_request::launch() {
  launched_ = true;
  // The host's word for the handler is not the handler's to see.
  std::erase_if(params_, [](const auto& pair) { return pair.name == runners::worker_protocol::handler_param; });
  lifecycle_.name_target("function", script_);
  after(lifecycle_.resume(lifecycle_event::params_complete{std::chrono::milliseconds(0)}));
  if (!body_.empty()) after(lifecycle_.resume(lifecycle_event::stdin_chunk{body_}));
  after(lifecycle_.resume(lifecycle_event::stdin_chunk{}));
  std::string().swap(body_);  // the lifecycle holds it now
}

void quick_request::run() {
  const auto began = std::chrono::steady_clock::now();
  // Stopped before its turn came: it does not run (as on the handler pool).
  if (!stop_.stop_requested()) result_ = runners::call_handler(handler_, shared_from_this(), stop_.get_token(), {});
  handler_ran_ = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began);
}

void quick_request::run_done() {
  release_ticket();
  after(lifecycle_.resume(lifecycle_event::runner_done{std::move(result_)}));
}

void quick_request::stop_by_host() {
  if (lifecycle_.over()) return;
  host_.log->debug("request {} stopped by the host", id_);
  after(lifecycle_.resume(lifecycle_event::output_discarded{}));
  stop_.request_stop();
}

void quick_request::connection_lost() {
  ended_told_ = true;  // nothing is written any more
  if (!lifecycle_.over()) (void)lifecycle_.resume(lifecycle_event::peer_gone{});
  stop_.request_stop();
}

void quick_request::after(lifecycle_action action) {
  // Held output goes out before the next write or with the last records;
  // there is no deadline to re-arm (the host keeps it).
  if (action != lifecycle_action::kind::finalize || ended_told_) return;
  ended_told_ = true;
  if (auto owner = owner_.lock()) owner->quick_request_ended(shared_from_this());
}

awaitable<std::string> quick_request::read_stdin() {
  if (lifecycle_.over()) co_return std::string();
  co_return lifecycle_.take_stdin(small_body);
}

// What a handler hands over before it returns (a full buffer, a flush): as
// a session writes it, through the lifecycle and the connection's writer.
awaitable<bool> quick_request::write(runners::output_stream stream, std::string_view bytes) {
  using kind = lifecycle_action::kind;
  const auto action = lifecycle_.resume(lifecycle_event::runner_output{stream, bytes});
  if ((action == kind::send || action == kind::hold) && stream == runners::output_stream::err) log_stderr(bytes);
  if (action != kind::send && action != kind::hold) {
    after(action);
    co_return false;
  }
  if (action == kind::hold || bytes.empty()) co_return true;
  auto self = shared_from_this();  // a handler's write may finish after the request
  auto owner = owner_.lock();
  if (!owner) co_return false;
  const auto type =
      stream == runners::output_stream::out ? protocol::record_type::std_out : protocol::record_type::std_err;
  const protocol::gathered_records records(type, id_, bytes);
  std::vector<asio::const_buffer> buffers;
  for (const auto piece : records.pieces()) buffers.push_back(asio::buffer(piece));
  after(lifecycle_.resume(lifecycle_event::write_started{}));
  bool ok = true;
  bool sent = false;
  try {
    auto guard = co_await owner->acquire_writer();
    if (!lifecycle_.over()) {
      co_await send_held_output(lifecycle_, *owner);
      after(lifecycle_.resume(lifecycle_event::output_sending{stream}));
      co_await owner->write_now(buffers);
      sent = true;
    }
  } catch (const std::exception&) {
    ok = false;
  }
  after(lifecycle_.resume(lifecycle_event::write_finished{ok}));
  co_return sent;
}

final_records quick_request::take_last_records(bool alone, close_reason& cut_reason) {
  request_ending ending = lifecycle_.take_ending();
  stop_.request_stop();
  if (!ending.log_message.empty())
    host_.log->log(ending.log_as_error ? spdlog::level::err : spdlog::level::warn, "{} request {} {}: {}", peer_, id_,
                   script_, ending.log_message);
  if (!ending.runner_stderr.empty()) log_stderr(ending.runner_stderr);
  stderr_log_.finish([this](std::string_view line) { log_stderr_line(line); });
  final_records last = compose_final_records(id_, ending, lifecycle_.output(), alone);
  if (last.close_connection) {
    cut_reason = ending.outcome == request_outcome::write_failed ? close_reason::write_failed : close_reason::response_cut;
    if (ending.outcome != request_outcome::write_failed)
      host_.log->warn("{} request {} {}: closing the connection without END_REQUEST, so the web server sees the "
                      "response is incomplete", peer_, id_, script_);
  } else if (last.write) {
    std::string first = lifecycle_.take_held_output(held_output_piece);
    for (std::string more = lifecycle_.take_held_output(held_output_piece); !more.empty();
         more = lifecycle_.take_held_output(held_output_piece))
      first += more;
    first += run_time_record(id_, handler_ran_, ending.outcome);
    last.bytes.insert(0, first);
  }
  lifecycle_.finished();
  request_report report;
  report.peer = peer_;
  report.request_id = id_;
  report.params = &params_;
  report.began = began_;
  report.script = script_;
  report.runner = lifecycle_.runner_name();
  report.logged_status = lifecycle_.logged_status();
  report.stdin_bytes = lifecycle_.stdin_bytes();
  report.stdout_bytes = lifecycle_.stdout_bytes();
  report.in_worker = true;
  report_request_end(host_, report, ending);
  return last;
}

void quick_request::log_stderr(std::string_view bytes) {
  stderr_log_.feed(bytes, [this](std::string_view line) { log_stderr_line(line); });
}

void quick_request::log_stderr_line(std::string_view line) {
  host_.log->warn("{} {}: stderr: {}", peer_, script_, line);
}

}  // namespace fcgihost::host
