// The quick lane of a worker's connection (see quick_request.hpp): a request
// that arrives whole for a handler on the fast path is served without a
// request_session. Member functions of connection, in a file of their own by
// job; everything here runs on the connection's strand.
//
// The lane takes a BEGIN_REQUEST only while no session is on the connection,
// so its requests always come before any session's, and it runs them one at
// a time in the order they came, each when its run_order turn comes. A
// request the lane cannot serve after all (its handler is not on the fast
// path, its body is not small, it is aborted before it ran, its records come
// in an order the lane does not expect) is handed to a session, with every
// lane request behind it, in order, as if the sessions had been made at
// their BEGIN_REQUEST: nothing the lane takes is served differently, only
// with less work.
#include "connection.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

#include <runners/common/exception_text.hpp>
#include <runners/function/function_runner.hpp>
#include <runners/function/handler_speed.hpp>
#include <runners/worker/worker_protocol.hpp>

#include <host/request/request_session.hpp>
#include <host/request/quick_request.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using error_code = boost::system::error_code;
namespace message = protocol::message;

namespace {
// More than the host sends a worker at once (worker-pipeline): beyond it,
// sessions take the requests.
constexpr std::size_t most_in_lane = 16;

std::uint16_t request_id_of(const protocol::decoded_message& decoded) {
  if (const auto* params = std::get_if<message::params>(&decoded)) return params->request_id;
  if (const auto* data = std::get_if<message::stream_data>(&decoded)) return data->request_id;
  if (const auto* abort = std::get_if<message::abort_request>(&decoded)) return abort->request_id;
  return 0;  // no request's record
}
}  // namespace

bool connection::lane_handle(protocol::decoded_message& decoded) {
  if (const auto* begin = std::get_if<message::begin_request>(&decoded)) return lane_take(*begin);
  if (lane_.empty()) return false;
  const auto id = request_id_of(decoded);
  const auto at = std::find_if(lane_.begin(), lane_.end(), [id](const auto& request) { return request->id() == id; });
  if (id == 0 || at == lane_.end()) return false;
  const auto index = static_cast<std::size_t>(at - lane_.begin());
  auto& request = *at;
  if (auto* params = std::get_if<message::params>(&decoded)) {
    if (request->started()) return true;  // the decoder ends PARAMS once
    started_requests_.fetch_add(1, std::memory_order_relaxed);
    perform(fsm_.request_started());
    auto handler = lane_handler_for(params->pairs);
    request->start(std::move(params->pairs), handler ? std::move(*handler) : runners::bound_handler{});
    if (!handler) lane_hand_on(index);
    return true;
  }
  if (auto* data = std::get_if<message::stream_data>(&decoded)) {
    if (data->stream != protocol::record_type::std_in) return false;  // logged and ignored there
    if (request->launched()) return true;  // late input: dropped, as a session drops it
    if (!request->started()) {             // a body before its PARAMS
      lane_hand_on(index);
      return false;  // the session takes this record too
    }
    if (!request->push_stdin(data->bytes))
      lane_hand_on(index);
    else if (request->whole())
      lane_launch_next();
    return true;
  }
  // ABORT_REQUEST: a request still waiting goes to a session, which ends it
  // the way it ends any request stopped before its handler ran.
  if (request->launched()) {
    request->stop_by_host();
    return true;
  }
  lane_hand_on(index);
  return false;
}

bool connection::lane_take(const message::begin_request& begin) {
  if (!host_.functions || status_only_) return false;
  const auto taken = std::any_of(lane_.begin(), lane_.end(), [&](const auto& r) { return r->id() == begin.request_id; });
  if (taken) {
    host_.log->warn("{}: closing the connection: request id {} began twice", peer_, begin.request_id);
    tear_down(close_reason::protocol_error);
    return true;
  }
  if (begin.role != static_cast<std::uint16_t>(protocol::role::responder) || !requests_.empty() ||
      lane_.size() >= most_in_lane)
    return false;
  const auto settings = host_.settings();
  lane_.push_back(std::make_shared<quick_request>(weak_from_this(), socket_.get_executor(), host_, peer_, *settings,
                                                  begin.request_id, begin.keep_conn,
                                                  host_.in_worker->run_order->take()));
  perform(fsm_.request_begun());
  host_.requests_begun.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::optional<runners::bound_handler> connection::lane_handler_for(const protocol::name_value_list& params) {
  const std::string* handler = nullptr;
  for (const auto& pair : params) {
    if (pair.name != runners::worker_protocol::handler_param) continue;
    if (handler) return std::nullopt;  // named twice: a session says so
    handler = &pair.value;
  }
  if (!handler) return std::nullopt;
  auto found = host_.functions->find_loaded(host_.in_worker->plugin, *handler);
  if (found.result != runners::lookup_result::outcome::found || !found.handler.speed ||
      !found.handler.speed->runs_inline())
    return std::nullopt;
  return std::move(found.handler);
}

void connection::lane_hand_on(std::size_t first) {
  const auto settings = host_.settings();
  for (std::size_t i = first; i < lane_.size(); ++i) {
    auto& request = *lane_[i];
    auto session = std::make_shared<request_session>(weak_from_this(), socket_.get_executor(), host_, settings, peer_,
                                                     request.id(), request.keep_conn(), status_only_,
                                                     fcgi_role::responder, request.ticket());
    request.hand_on_ticket();
    requests_[request.id()] = session;
    session->begin();
    // Its run starts once these calls are done (a spawned coroutine), so it
    // finds the body as far as it came.
    if (request.started()) session->start(std::move(request.params()));
    if (!request.body().empty()) session->push_stdin(request.body());
    if (request.whole()) session->push_stdin({});
  }
  lane_.erase(lane_.begin() + static_cast<std::ptrdiff_t>(first), lane_.end());
}

void connection::lane_launch_next() {
  if (lane_running_) return;
  const auto next = std::find_if(lane_.begin(), lane_.end(), [](const auto& r) { return !r->launched(); });
  if (next == lane_.end() || !(*next)->whole()) return;
  // Its handler stalled since (see io_threads): the handler pool runs it.
  if (!(*next)->speed()->runs_inline()) {
    lane_hand_on(static_cast<std::size_t>(next - lane_.begin()));
    return;
  }
  lane_running_ = true;
  auto request = *next;
  request->launch();
  const bool now = host_.in_worker->run_order->when_turn(request->ticket(), [weak = weak_from_this(), request] {
    if (auto self = weak.lock()) asio::post(self->executor(), [self, request] { self->lane_run(request); });
  });
  if (now) lane_run(request);
}

// Off the strand, on the I/O thread, as function_runner runs a handler on
// the fast path. Its end comes back to the strand dispatched: on this I/O
// thread, with the strand free (the lane runs one handler at a time), it runs
// at once, with no turn of the event loop before the response is written;
// queued behind the strand's holder otherwise (a stalled handler's thread).
void connection::lane_run(const std::shared_ptr<quick_request>& request) {
  if (std::find(lane_.begin(), lane_.end(), request) == lane_.end()) {  // the connection closed meanwhile
    request->release_ticket();
    return;
  }
  auto& threads = host_.functions->inline_threads();
  asio::defer(threads.context(), [self = shared_from_this(), request, &threads] {
    threads.run_inline(
        [&] {
          request->run();
          asio::dispatch(self->executor(), [self, request] { self->lane_run_done(request); });
        },
        *request->speed());
  });
}

void connection::lane_run_done(const std::shared_ptr<quick_request>& request) {
  lane_running_ = false;
  request->run_done();  // may end it now (quick_request_ended)
  lane_launch_next();
}

void connection::quick_request_ended(const std::shared_ptr<quick_request>& request) {
  const auto at = std::find(lane_.begin(), lane_.end(), request);
  if (at == lane_.end()) return;  // the connection closed
  lane_.erase(at);
  // Its id is free before its END_REQUEST goes out (see release_request).
  started_requests_.fetch_sub(1, std::memory_order_relaxed);
  decoder_.forget(request->id());
  perform(fsm_.request_released(clock::now(), true));
  resume_reading();
  auto cut_reason = close_reason::response_cut;
  final_records last = request->take_last_records(lane_.empty() && requests_.empty(), cut_reason);
  if (last.close_connection) {
    // In a worker a cut is not written: the host sees the worker's own failure.
    tear_down(cut_reason);
    request_done(request->keep_conn());
  } else if (!last.write) {
    request_done(request->keep_conn());
  } else {
    lane_write_end(std::move(last.bytes), request->keep_conn());
  }
}

// Written at once when the socket takes it all (a quick response does), as
// write_now writes; the rest, or a wait for the writer, in a coroutine.
void connection::lane_write_end(std::string bytes, bool keep_conn) {
  if (!write_lock_.try_send(error_code{})) {
    asio::co_spawn(executor(), lane_write_rest(std::nullopt, std::move(bytes), 0, keep_conn), asio::detached);
    return;
  }
  write_guard guard(this);
  error_code ec;
  std::size_t written = socket_.write_some(asio::buffer(bytes), ec);  // never blocks: the socket is non-blocking
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    written = 0;
  } else if (ec) {
    host_.log->debug("{} request: END_REQUEST not sent: {}", peer_, ec.message());
  }
  if (!ec && written < bytes.size()) {
    asio::co_spawn(executor(), lane_write_rest(std::move(guard), std::move(bytes), written, keep_conn),
                   asio::detached);
    return;
  }
  request_done(keep_conn);
}

awaitable<void> connection::lane_write_rest(std::optional<write_guard> held, std::string bytes, std::size_t from,
                                            bool keep_conn) {
  auto self = shared_from_this();
  try {
    if (!held) held.emplace(co_await acquire_writer());
    co_await asio::async_write(socket_, asio::buffer(bytes) + from, asio::use_awaitable);
  } catch (const std::exception& e) {
    host_.log->debug("{} request: END_REQUEST not sent: {}", peer_, e.what());
  }
  held.reset();
  request_done(keep_conn);
}

void connection::lane_close() {
  for (auto& request : lane_) request->connection_lost();  // a waiting one's ticket goes with it
  lane_.clear();
}

}  // namespace fcgihost::host
