#include "connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <spdlog/spdlog.h>

#include <array>
#include <memory>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/error.hpp>

#include <host/request/request_session.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;
namespace message = protocol::message;

namespace {
// Reads grow while they fill their buffer: a request from nginx (its
// fastcgi_params and a few headers, 0.5 to 1 KiB) fits the small one, which
// every idle keep-alive connection holds (10,000 of them: ~15 MiB); a bigger
// request takes a read more into a medium buffer; a streamed body, the large.
constexpr std::size_t small_read_size = 1536;
constexpr std::size_t medium_read_size = 16 * 1024;
constexpr std::size_t read_buffer_size = 256 * 1024;

protocol::decoder_limits limits_from(const host_config& config) {
  protocol::decoder_limits limits;
  limits.max_params_bytes = config.max_params_bytes;
  return limits;
}

connection_timeouts timeouts_from(const host_config& config) {
  return {.read = config.read_timeout, .idle = config.idle_timeout};
}
}  // namespace

connection::connection(socket_type socket, host_context& host, std::string peer, bool status_only)
    : socket_(std::move(socket)),
      host_(host),
      peer_(std::move(peer)),
      status_only_(status_only),
      decoder_(limits_from(*host.settings())),
      fsm_(timeouts_from(*host.settings()), clock::now()),
      write_lock_(socket_.get_executor(), 1),
      resume_reading_(socket_.get_executor()),
      timer_(socket_.get_executor()) {
  error_code ignored;
  socket_.non_blocking(true, ignored);  // for write_now's first try
  if (!status_only_) ++host_.open_connections;  // a status listener's count in no limit
}

connection::~connection() {
  if (status_only_) return;
  --host_.open_connections;
  host_.quiet.ended_one();
}

awaitable<requests_seen> connection::requests_now(std::size_t most) {
  requests_seen seen;
  seen.in_all = requests_.size();
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, session] : requests_) {
    if (seen.views.size() >= most) break;
    seen.views.push_back(session->describe(now));
  }
  co_return seen;
}

void connection::release_writer() { write_lock_.try_receive([](error_code) {}); }

// An operation that completes at once still completes through the event
// loop (Asio 1.81 posts it), which costs a turn of the loop and a poll of the
// reactor. The writer taken and the write made without waiting, when they
// can be, cost neither: a quick request goes out in the same turn that
// received it.
awaitable<request_sink::write_guard> connection::acquire_writer() {
  if (!write_lock_.try_send(error_code{})) co_await write_lock_.async_send(error_code{}, use_awaitable);
  co_return write_guard(this);
}

awaitable<void> connection::write_now(const std::vector<asio::const_buffer>& buffers) {
  error_code ec;
  std::size_t written = socket_.write_some(buffers, ec);  // never blocks: the socket is non-blocking
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    written = 0;
  } else if (ec) {
    throw boost::system::system_error(ec);
  }
  if (written == asio::buffer_size(buffers)) co_return;
  std::vector<asio::const_buffer> rest;
  for (const auto& piece : buffers) {
    if (written >= piece.size()) {
      written -= piece.size();
      continue;
    }
    rest.push_back(piece + written);
    written = 0;
  }
  co_await asio::async_write(socket_, rest, use_awaitable);
}

// False when the socket failed: never an exception, so that in the race
// below (awaitable operator||, which waits for the first to *succeed*) a
// failed write ends the race at once instead of waiting for the timer.
awaitable<bool> connection::write_locked(const std::string& bytes) {
  try {
    auto guard = co_await acquire_writer();
    const std::vector<asio::const_buffer> buffers(1, asio::buffer(bytes));
    co_await write_now(buffers);
    co_return true;
  } catch (const std::exception&) {
    co_return false;
  }
}

// Our own replies (management records, refusals) are written from the read
// loop: one the peer never reads would hold the loop for ever, so it gets
// --read-timeout, after which the connection is closed.
awaitable<void> connection::write_bytes(std::string bytes) {
  const auto limit = host_.settings()->read_timeout;
  bool written = false;
  if (limit.count() == 0) {
    written = co_await write_locked(bytes);
  } else {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(socket_.get_executor(), limit);
    const auto outcome = co_await (write_locked(bytes) || timer.async_wait(asio::as_tuple(use_awaitable)));
    if (outcome.index() == 1) {
      host_.log->warn("{}: closing the connection: it has not read our replies for {:g} s (read-timeout)", peer_,
                      std::chrono::duration<double>(limit).count());
      tear_down(close_reason::replies_not_read);
      co_return;
    }
    written = std::get<0>(outcome);
  }
  if (!written) tear_down(close_reason::write_failed);
}

void connection::perform(const connection_action& action) {
  if (action.wake_at) arm_timer(*action.wake_at);
  switch (action.what) {
    case connection_action::kind::none:
    case connection_action::kind::pause_reading:  // the read loop's (see serve)
      break;
    case connection_action::kind::linger: {
      error_code ignored;
      socket_.shutdown(socket_type::shutdown_send, ignored);
      sent_end_of_output_ = true;
      break;
    }
    case connection_action::kind::close:
      close_now(action);
      break;
  }
}

void connection::arm_timer(clock::time_point at) {
  if (at == clock::time_point::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(at);
  timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->perform(self->fsm_.timer_fired(clock::now()));
  });
}

void connection::close_now(const connection_action& action) {
  const auto seconds = [](std::chrono::milliseconds limit) { return std::chrono::duration<double>(limit).count(); };
  switch (action.reason) {
    case close_reason::read_timeout:
      host_.log->warn("{}: closing the connection: stopped in the middle of a record or of a request's PARAMS for "
                      "{:g} s (read-timeout)", peer_, seconds(action.limit));
      break;
    case close_reason::idle_timeout:
      host_.log->warn("{}: closing the connection: idle for {:g} s (idle-timeout)", peer_, seconds(action.limit));
      break;
    case close_reason::evicted:
      host_.log->warn("{}: closing the connection, which has sent nothing for {:.1f} s, to admit a new one "
                      "(max-connections)", peer_,
                      std::chrono::duration<double>(clock::now() - last_input()).count());
      break;
    default:
      break;
  }
  if (!status_only_) host_.metrics.connection_closed(action.reason);
  if (!requests_.empty())
    host_.log->debug("{}: ending {} request(s): {}", peer_, requests_.size(), to_string(action.reason));
  // abort() ends a session, which then leaves the map: work on a copy.
  auto sessions = requests_;
  for (auto& [id, session] : sessions) session->abort(true);
  lane_close();
  close_socket();
}

void connection::close_socket() {
  resume_reading_.cancel();
  timer_.cancel();
  error_code ignored;
  if (!sent_end_of_output_) socket_.shutdown(socket_type::shutdown_both, ignored);
  socket_.close(ignored);
}

void connection::tear_down(close_reason why) { perform(fsm_.close(why)); }

bool connection::input_waiting() {
  error_code ec;
  return socket_.available(ec) > 0 && !ec;
}

void connection::drain() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->perform(self->fsm_.drain(clock::now(), self->input_waiting()));
  });
}

void connection::shut_down() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->tear_down(close_reason::host_stopping); });
}

void connection::evict() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->perform(self->fsm_.evict()); });
}

bool connection::alone(std::uint16_t request_id) const {
  return lane_.empty() && requests_.size() == 1 && requests_.begin()->first == request_id;
}

void connection::release_request(std::uint16_t request_id) {
  const auto found = requests_.find(request_id);
  if (found == requests_.end()) return;
  const bool was_started = found->second->started();
  if (was_started) started_requests_.fetch_sub(1, std::memory_order_relaxed);
  requests_.erase(found);
  decoder_.forget(request_id);
  perform(fsm_.request_released(clock::now(), was_started));
  resume_reading();  // late input for it is read and dropped
}

void connection::request_done(bool keep_conn) {
  // Whether input waits matters only to a connection that closes (a syscall).
  const bool closes = !keep_conn || fsm_.closing();
  perform(fsm_.last_records_out(clock::now(), keep_conn, closes && input_waiting()));
}

void connection::resume_reading() {
  if (reading_paused_) resume_reading_.cancel();
}

// A body that arrives faster than its runner reads it waits in the request's
// spool, in memory and then on disk, so that other requests on the connection
// are never held up. With only one request on the connection (nginx never
// multiplexes) there is nobody to hold up: reading stops instead, and the web
// server waits, as a pipe would make it (1 GiB echo: no temp file writes).
bool connection::input_backlogged() const {
  return requests_.size() == 1 && requests_.begin()->second->stdin_backlogged();
}

// A runner that does not read for a while may be waiting for the web server
// to read its output while the web server waits to send more of the body:
// then the spool takes the body after all, and that request is not paused for
// again.
awaitable<void> connection::pause_reading(clock::time_point until) {
  const auto paused_for = requests_.begin()->second;
  reading_paused_ = true;
  resume_reading_.expires_at(until);
  auto [ec] = co_await resume_reading_.async_wait(asio::as_tuple(use_awaitable));
  reading_paused_ = false;
  if (!ec) paused_for->stop_backpressure();
}

awaitable<void> connection::run() {
  auto self = shared_from_this();
  const bool draining = host_.draining;
  perform(fsm_.opened(clock::now(), draining, draining && input_waiting()));
  auto why = close_reason::peer_closed;
  try {
    why = co_await serve();
  } catch (const std::exception& e) {
    host_.log->error("{}: connection failed inside the host: {}", peer_, e.what());
    why = close_reason::host_failure;
  }
  tear_down(why);
}

awaitable<close_reason> connection::serve() {
  // Small reads while the web server sends requests one by one, larger ones
  // while a body streams in (see small_read_size); between them no larger
  // buffer is held, so an idle keep-alive connection costs a few KiB.
  std::array<char, small_read_size> small_buffer;
  std::unique_ptr<char[]> large_buffer;
  std::size_t large_size = 0;
  while (fsm_.state() != connection_fsm::phase::closed) {
    const auto buffer = large_buffer ? asio::mutable_buffer(large_buffer.get(), large_size)
                                     : asio::mutable_buffer(small_buffer.data(), small_buffer.size());
    auto [ec, n] = co_await socket_.async_read_some(buffer, asio::as_tuple(use_awaitable));
    if (ec) {
      if (fsm_.reading() && ec == asio::error::eof && !decoder_.at_record_boundary())
        host_.log->warn("{}: connection closed in the middle of a record", peer_);
      else if (ec != asio::error::eof && ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
        host_.log->debug("{}: connection ended: {}", peer_, ec.message());
      co_return close_reason::peer_closed;
    }
    if (!fsm_.reading()) continue;  // lingering: input after our last response is dropped
    const auto now = clock::now();
    last_input_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    perform(fsm_.input(now));
    std::string_view input(static_cast<const char*>(buffer.data()), n);
    // Runs begun by this read start once all of it is handled (however the
    // loop below is left): see request_session::hold_run_launch.
    struct launch_at_exit {
      std::vector<std::shared_ptr<request_session>>& runs;
      ~launch_at_exit() {
        for (auto& session : runs) session->launch_held_run();
        runs.clear();
      }
    };
    {
      launch_at_exit launch{runs_to_launch_};
      while (!input.empty() && fsm_.reading()) {
        protocol::decoded_message decoded;
        bool ready = false;
        std::error_code protocol_error;
        input.remove_prefix(decoder_.put(input, decoded, ready, protocol_error));
        if (protocol_error) {
          host_.log->warn("{}: closing the connection: {}", peer_, protocol_error.message());
          co_return close_reason::protocol_error;
        }
        if (ready) co_await handle(decoded);
      }
    }
    const auto next =
        fsm_.input_handled(now, decoder_.at_record_boundary(), fsm_.reading() && input_backlogged());
    perform(next);
    if (next.what == connection_action::kind::pause_reading) co_await pause_reading(next.until);
    // The views into the buffer are all used up here: it may change.
    if (n < buffer.size()) {
      large_buffer.reset();
      large_size = 0;
    } else if (large_size < read_buffer_size) {
      large_size = large_size == 0 ? medium_read_size : read_buffer_size;
      large_buffer = std::make_unique_for_overwrite<char[]>(large_size);
    }
  }
  co_return close_reason::peer_closed;
}

awaitable<void> connection::handle(protocol::decoded_message& decoded) {
  if (host_.in_worker && lane_handle(decoded)) co_return;
  if (auto* begin = std::get_if<message::begin_request>(&decoded)) {
    co_await begin_request(*begin);
  } else if (auto* params = std::get_if<message::params>(&decoded)) {
    auto session = requests_.find(params->request_id);
    if (session != requests_.end() && !session->second->started()) {
      started_requests_.fetch_add(1, std::memory_order_relaxed);
      perform(fsm_.request_started());
      auto keep = session->second;
      keep->hold_run_launch();
      keep->start(std::move(params->pairs));
      runs_to_launch_.push_back(std::move(keep));
    }
  } else if (auto* data = std::get_if<message::stream_data>(&decoded)) {
    if (data->stream != protocol::record_type::std_in) {
      host_.log->debug("{}: ignoring {} for request {}", peer_,
                       protocol::type_name(static_cast<std::uint8_t>(data->stream)), data->request_id);
      co_return;
    }
    auto session = requests_.find(data->request_id);
    if (session == requests_.end()) co_return;  // the request already ended: late input is dropped
    auto keep = session->second;
    keep->push_stdin(data->bytes);
  } else if (auto* abort = std::get_if<message::abort_request>(&decoded)) {
    if (auto session = requests_.find(abort->request_id); session != requests_.end()) {
      auto keep = session->second;
      keep->abort(false);
    }
  } else if (auto* query = std::get_if<message::get_values>(&decoded)) {
    co_await answer_get_values(*query);
  } else if (auto* unknown = std::get_if<message::unknown_management_record>(&decoded)) {
    host_.log->info("{}: answering UNKNOWN_TYPE to management record type {}", peer_, unknown->type);
    std::string reply;
    protocol::append_unknown_type(reply, unknown->type);
    co_await write_bytes(std::move(reply));
  } else if (auto* ignored = std::get_if<message::ignored_record>(&decoded)) {
    host_.log->debug("{}: ignoring a {} record for request {}", peer_, protocol::type_name(ignored->header.type),
                     ignored->header.request_id);
  }
  // END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE: what a client receives; nothing to do.
}

awaitable<void> connection::begin_request(const message::begin_request& begin) {
  const auto refuse = [&](protocol::protocol_status status) -> awaitable<void> {
    decoder_.forget(begin.request_id);
    std::string reply;
    protocol::append_end_request(reply, begin.request_id, 0, status);
    fsm_.refusal_pending();
    co_await write_bytes(std::move(reply));
    request_done(begin.keep_conn);
  };
  if (requests_.contains(begin.request_id)) {
    host_.log->warn("{}: closing the connection: request id {} began twice", peer_, begin.request_id);
    tear_down(close_reason::protocol_error);
    co_return;
  }
  const bool authorizer = begin.role == static_cast<std::uint16_t>(protocol::role::authorizer);
  if (begin.role != static_cast<std::uint16_t>(protocol::role::responder) && !authorizer) {
    host_.log->warn("{}: request {} asks for role {}, only the responder and authorizer roles are served", peer_,
                    begin.request_id, begin.role);
    co_await refuse(protocol::protocol_status::unknown_role);
    co_return;
  }
  // A drain still serves what arrives on a connection it has not closed yet:
  // the web server sent it before it could know (a multiplexing balancer's
  // connection is seldom idle), and refused it would be a failed request. The
  // connection closes once it has nothing in flight.
  // The limits in force now, also for a connection opened before a reload.
  const auto settings = host_.settings();
  decoder_.set_limits(limits_from(*settings));
  perform(fsm_.set_timeouts(timeouts_from(*settings)));
  // Requests still receiving their PARAMS hold no slot of --max-requests (so
  // one connection cannot starve the others of them); each connection may
  // have as many of them as --max-requests.
  if (requests_.size() + lane_.size() - started_requests_ >= settings->max_requests) {
    if (std::string more; host_.refused_requests_log.allow(more))
      host_.log->warn("{}: request {} refused (OVERLOADED): {} requests on this connection have not sent their "
                      "PARAMS{}", peer_, begin.request_id, settings->max_requests, more);
    co_await refuse(protocol::protocol_status::overloaded);
    co_return;
  }
  auto session = std::make_shared<request_session>(weak_from_this(), socket_.get_executor(), host_, settings, peer_,
                                                   begin.request_id, begin.keep_conn, status_only_,
                                                   authorizer ? fcgi_role::authorizer : fcgi_role::responder);
  requests_[begin.request_id] = session;
  perform(fsm_.request_begun());
  host_.requests_begun.fetch_add(1, std::memory_order_relaxed);
  session->begin();
}

awaitable<void> connection::answer_get_values(const message::get_values& query) {
  // Honest: the limits this host enforces now.
  const auto settings = host_.settings();
  protocol::name_value_list values;
  for (const auto& name : query.names) {
    if (name == protocol::max_conns_name)
      values.push_back({name, std::to_string(settings->max_connections)});
    else if (name == protocol::max_reqs_name)
      values.push_back({name, std::to_string(settings->max_requests)});
    else if (name == protocol::mpxs_conns_name)
      values.push_back({name, "1"});
    else if (const auto* extra = protocol::find_value(host_.extra_values, name))
      values.push_back({name, *extra});
    // Names we do not know are left out, as the spec asks.
  }
  std::string reply;
  protocol::append_get_values_result(reply, values);
  co_await write_bytes(std::move(reply));
}

}  // namespace fcgihost::host
