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
constexpr std::size_t read_buffer_size = 256 * 1024;
constexpr std::size_t small_read_size = 4 * 1024;
// How long reading waits for a runner to take its backlog of FCGI_STDIN.
constexpr auto longest_read_pause = std::chrono::milliseconds(100);
// How long a closing connection reads and drops input (see close_gracefully).
constexpr auto linger_time = std::chrono::seconds(2);

protocol::decoder_limits limits_from(const host_config& config) {
  protocol::decoder_limits limits;
  limits.max_params_bytes = config.max_params_bytes;
  return limits;
}
}  // namespace

connection::connection(socket_type socket, host_context& host, std::string peer, bool status_only)
    : socket_(std::move(socket)),
      host_(host),
      peer_(std::move(peer)),
      status_only_(status_only),
      decoder_(limits_from(*host.settings())),
      write_lock_(socket_.get_executor(), 1),
      linger_(socket_.get_executor()),
      first_request_wait_(socket_.get_executor()),
      resume_reading_(socket_.get_executor()),
      activity_check_(socket_.get_executor()) {
  if (!status_only_) ++host_.open_connections;  // a status listener's count in no limit
}

connection::~connection() {
  if (!status_only_) --host_.open_connections;
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

awaitable<request_sink::write_guard> connection::acquire_writer() {
  co_await write_lock_.async_send(error_code{}, use_awaitable);
  co_return write_guard(this);
}

awaitable<void> connection::write_now(const std::vector<asio::const_buffer>& buffers) {
  co_await asio::async_write(socket_, buffers, use_awaitable);
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
      tear_down("replies not read");
      co_return;
    }
    written = std::get<0>(outcome);
  }
  if (!written) tear_down("a write failed");
}

void connection::close_socket() {
  resume_reading_.cancel();
  linger_.cancel();
  activity_check_.cancel();
  error_code ignored;
  if (!sent_end_of_output_) socket_.shutdown(socket_type::shutdown_both, ignored);
  socket_.close(ignored);
}

void connection::tear_down(std::string_view why) {
  if (state_ == state::closed) return;
  state_ = state::closed;
  first_request_wait_.cancel();
  if (!requests_.empty()) host_.log->debug("{}: ending {} request(s): {}", peer_, requests_.size(), why);
  // abort() ends a session, which then leaves the map: work on a copy.
  auto sessions = requests_;
  for (auto& [id, session] : sessions) session->abort(true);
  close_socket();
}

// Closing a socket that still has unread input makes TCP send a reset, which
// can destroy the response the web server has not read yet. So, as nginx's
// lingering close does: shut our side, read and drop until the peer closes,
// and close for good after a bounded wait.
void connection::close_gracefully() {
  if (state_ != state::reading || !socket_.is_open()) return;
  state_ = state::lingering;
  error_code ignored;
  socket_.shutdown(socket_type::shutdown_send, ignored);
  sent_end_of_output_ = true;
  linger_.expires_after(linger_time);
  linger_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->tear_down("the lingering close is over");
  });
}

void connection::drain() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    self->close_when_idle();
  });
}

void connection::close_when_idle() {
  // A request released but still writing its last records would lose them.
  if (!requests_.empty() || last_records_pending_ > 0 || state_ != state::reading) return;
  error_code ec;
  if (socket_.available(ec) > 0 && !ec) return;  // a request is arriving: request_done() comes back here
  if (!received_any_) {
    // Just opened: its first request may be on its way.
    constexpr auto first_request_grace = std::chrono::seconds(1);
    first_request_wait_.expires_after(first_request_grace);
    first_request_wait_.async_wait([weak = weak_from_this()](error_code waited) {
      if (waited) return;
      if (auto self = weak.lock(); self && self->requests_.empty()) self->close_gracefully();
    });
    return;
  }
  close_gracefully();
}

void connection::shut_down() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->tear_down("the host is shutting down"); });
}

void connection::evict() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    if (self->state_ == state::closed || self->serving()) return;  // it began a request meanwhile
    self->host_.log->warn("{}: closing the connection, which has sent nothing for {:.1f} s, to admit a new one "
                          "(max-connections)", self->peer_,
                          std::chrono::duration<double>(clock::now() - self->last_input()).count());
    self->tear_down("evicted for a new connection");
  });
}

bool connection::alone(std::uint16_t request_id) const {
  return requests_.size() == 1 && requests_.begin()->first == request_id;
}

void connection::release_request(std::uint16_t request_id) {
  const auto found = requests_.find(request_id);
  if (found == requests_.end()) return;
  if (found->second->started()) {
    started_requests_.fetch_sub(1, std::memory_order_relaxed);
  }
  requests_.erase(found);
  ++last_records_pending_;  // until request_done
  decoder_.forget(request_id);
  last_activity_ = clock::now();
  resume_reading();  // late input for it is read and dropped
}

void connection::request_done(bool keep_conn) {
  if (last_records_pending_ > 0) --last_records_pending_;
  after_last_records(keep_conn);
}

void connection::after_last_records(bool keep_conn) {
  if (!keep_conn) closing_ = true;  // the web server closes it after this request (FCGI_KEEP_CONN unset)
  if (closing_) close_when_idle();
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
awaitable<void> connection::pause_reading() {
  const auto paused_for = requests_.begin()->second;
  reading_paused_ = true;
  resume_reading_.expires_after(longest_read_pause);
  auto [ec] = co_await resume_reading_.async_wait(asio::as_tuple(use_awaitable));
  reading_paused_ = false;
  if (!ec) paused_for->stop_backpressure();
}

void connection::note_input() {
  received_any_ = true;
  first_request_wait_.cancel();
  last_activity_ = clock::now();
  last_input_.store(last_activity_.time_since_epoch().count(), std::memory_order_relaxed);
}

// One timer, checked lazily: reads only note the time, and the timer, when it
// fires, works out which limit applies now and re-arms for when it would
// expire. A connection with a request running has no read limit (the
// request's deadline governs the wait for its body); one stopped in the middle
// of a record or of a request's PARAMS has --read-timeout; one with nothing in
// flight has --idle-timeout.
void connection::arm_activity_check(clock::time_point at) {
  check_at_ = at;
  activity_check_.expires_at(at);
  activity_check_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->check_activity();
  });
}

void connection::check_activity() {
  if (state_ != state::reading) return;
  const auto settings = host_.settings();
  const auto now = clock::now();
  const bool mid_request = !decoder_.at_record_boundary() || requests_.size() > started_requests_;
  std::chrono::milliseconds limit{0};
  const char* what = "";
  const char* setting = "";
  if (started_requests_ == 0 && mid_request) {
    limit = settings->read_timeout;
    what = "stopped in the middle of a record or of a request's PARAMS";
    setting = "read-timeout";
  } else if (requests_.empty()) {
    limit = settings->idle_timeout;
    what = "idle";
    setting = "idle-timeout";
  }
  if (limit.count() > 0 && now - last_activity_ >= limit) {
    host_.log->warn("{}: closing the connection: {} for {:g} s ({})", peer_, what,
                    std::chrono::duration<double>(limit).count(), setting);
    tear_down("a timeout");
    return;
  }
  // Check again when the limit could expire; with none in force, after the
  // shorter of the two, since the connection's state may change meanwhile.
  auto next = limit.count() > 0 ? last_activity_ + limit : clock::time_point::max();
  for (const auto other : {settings->read_timeout, settings->idle_timeout})
    if (other.count() > 0 && limit.count() == 0) next = std::min(next, now + other);
  if (next != clock::time_point::max()) arm_activity_check(next);
}

// Input can put the connection in the middle of a record or of a request's
// PARAMS, where the read timeout applies: the check must not sleep past it.
void connection::note_read_limit() {
  if (started_requests_ > 0 || (decoder_.at_record_boundary() && requests_.size() == started_requests_)) return;
  const auto limit = host_.settings()->read_timeout;
  if (limit.count() > 0 && check_at_ > last_activity_ + limit) arm_activity_check(last_activity_ + limit);
}

awaitable<void> connection::run() {
  auto self = shared_from_this();
  check_activity();
  // Accepted while the host drains (its acceptor closes soon after): served
  // like the others, then closed.
  if (host_.draining) {
    closing_ = true;
    close_when_idle();
  }
  std::string why = "the connection ended";
  try {
    co_await serve();
  } catch (const std::exception& e) {
    host_.log->error("{}: connection failed inside the host: {}", peer_, e.what());
    why = e.what();
  }
  tear_down(why);
}

awaitable<void> connection::serve() {
  // Small reads while the web server sends requests one by one, large ones
  // while a body streams in; between them no large buffer is held, so an
  // idle keep-alive connection costs a few KiB, not 64.
  std::array<char, small_read_size> small_buffer;
  std::unique_ptr<char[]> large_buffer;
  while (state_ != state::closed) {
    const auto buffer = large_buffer ? asio::mutable_buffer(large_buffer.get(), read_buffer_size)
                                     : asio::mutable_buffer(small_buffer.data(), small_buffer.size());
    auto [ec, n] = co_await socket_.async_read_some(buffer, asio::as_tuple(use_awaitable));
    if (ec) {
      if (state_ == state::closed) co_return;
      if (ec == asio::error::eof && !decoder_.at_record_boundary() && state_ != state::lingering)
        host_.log->warn("{}: connection closed in the middle of a record", peer_);
      else if (ec != asio::error::eof && ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
        host_.log->debug("{}: connection ended: {}", peer_, ec.message());
      co_return;
    }
    if (state_ == state::lingering) continue;  // input after our last response is dropped
    note_input();
    std::string_view input(static_cast<const char*>(buffer.data()), n);
    while (!input.empty() && state_ == state::reading) {
      protocol::decoded_message decoded;
      bool ready = false;
      std::error_code protocol_error;
      input.remove_prefix(decoder_.put(input, decoded, ready, protocol_error));
      if (protocol_error) {
        host_.log->warn("{}: closing the connection: {}", peer_, protocol_error.message());
        co_return;
      }
      if (ready) co_await handle(decoded);
    }
    if (state_ == state::reading) note_read_limit();
    if (state_ == state::reading && input_backlogged()) co_await pause_reading();
    // The views into the buffer are all used up here: it may change.
    if (n < buffer.size())
      large_buffer.reset();
    else if (!large_buffer)
      large_buffer = std::make_unique_for_overwrite<char[]>(read_buffer_size);
  }
}

awaitable<void> connection::handle(protocol::decoded_message& decoded) {
  if (auto* begin = std::get_if<message::begin_request>(&decoded)) {
    co_await begin_request(*begin);
  } else if (auto* params = std::get_if<message::params>(&decoded)) {
    auto session = requests_.find(params->request_id);
    if (session != requests_.end() && !session->second->started()) {
      started_requests_.fetch_add(1, std::memory_order_relaxed);
      auto keep = session->second;
      keep->start(std::move(params->pairs));
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
    ++last_records_pending_;
    co_await write_bytes(std::move(reply));
    --last_records_pending_;
    after_last_records(begin.keep_conn);
  };
  if (requests_.contains(begin.request_id)) {
    host_.log->warn("{}: closing the connection: request id {} began twice", peer_, begin.request_id);
    tear_down("protocol error");
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
  // Requests still receiving their PARAMS hold no slot of --max-requests (so
  // one connection cannot starve the others of them); each connection may
  // have as many of them as --max-requests.
  if (requests_.size() - started_requests_ >= settings->max_requests) {
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
