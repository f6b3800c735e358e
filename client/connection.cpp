#include "connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <charconv>
#include <map>
#include <stdexcept>
#include <system_error>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>
#include <fcgihost/protocol/socket_address.hpp>
#include <fcgihost/protocol/stream_framing.hpp>

#include <client/socket_connect.hpp>

namespace fcgihost::client {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(use_awaitable);

namespace detail {

// Output pieces a request may hold unread before the reader stops reading the
// socket: this bounds client memory and pushes back on the server.
constexpr std::size_t queued_output_events = 16;
constexpr std::size_t read_buffer_size = 64 * 1024;

struct exchange_state {
  exchange_state(asio::any_io_executor executor, std::shared_ptr<connection_state> owner, std::uint16_t id)
      : connection(std::move(owner)), request_id(id), events(executor, queued_output_events) {}

  std::shared_ptr<connection_state> connection;
  std::uint16_t request_id;
  asio::experimental::channel<void(error_code, output_event)> events;
  bool ended = false;
};

struct connection_state : std::enable_shared_from_this<connection_state> {
  explicit connection_state(asio::any_io_executor executor)
      : socket(executor), write_lock(executor, 1), slot_freed(executor), management(executor, 8) {
    // Never expires: cancel() wakes the waiters, who then look again.
    slot_freed.expires_at(asio::steady_timer::time_point::max());
  }

  asio::generic::stream_protocol::socket socket;
  // A one-slot channel used as a mutex, so concurrent requests never
  // interleave their records mid-write.
  asio::experimental::channel<void(error_code)> write_lock;
  asio::steady_timer slot_freed;
  asio::experimental::channel<void(error_code, management_reply)> management;
  std::map<std::uint16_t, std::weak_ptr<exchange_state>> active;
  std::size_t max_in_flight = 1;
  bool open = true;
  bool last_request_begun = false;  // a request without keep-conn was sent
  std::string failure;

  void ensure_open() const {
    if (!open) throw std::runtime_error(failure.empty() ? "connection closed" : failure);
  }

  awaitable<void> write(const std::vector<asio::const_buffer>& buffers) {
    ensure_open();
    co_await write_lock.async_send(error_code{}, use_awaitable);
    struct unlock_on_exit {
      asio::experimental::channel<void(error_code)>& lock;
      ~unlock_on_exit() { lock.try_receive([](error_code) {}); }
    } unlock{write_lock};
    auto [ec, written] = co_await asio::async_write(socket, buffers, use_tuple);
    if (!ec) co_return;
    // The reader may have seen the server close first (and closed the
    // socket): its reason says more than this write's EBADF or EPIPE.
    if (!open) throw std::runtime_error(failure);
    throw boost::system::system_error(ec, "writing to the server");
  }

  awaitable<void> write(std::string_view bytes) {
    // Built outside the co_await: g++ 12 rejects a braced list inside one.
    const std::vector<asio::const_buffer> buffers(1, asio::buffer(bytes));
    co_await write(buffers);
  }

  void fail_all(std::string why) {
    if (!open) return;
    open = false;
    failure = std::move(why);
    for (auto& [id, weak] : active)
      if (auto exchange = weak.lock()) exchange->events.close();
    active.clear();
    management.close();
    slot_freed.cancel();
    error_code ignored;
    socket.close(ignored);
  }

  awaitable<void> deliver(std::uint16_t id, output_event event) {
    const auto found = active.find(id);
    if (found == active.end()) co_return;
    auto exchange = found->second.lock();
    if (event.type == output_event::kind::end) {
      active.erase(found);
      slot_freed.cancel();
    }
    if (!exchange) co_return;
    // Fails only when the exchange was dropped: its output is discarded.
    co_await exchange->events.async_send(error_code{}, std::move(event), use_tuple);
  }

  awaitable<void> dispatch(protocol::decoded_message& decoded) {
    namespace message = protocol::message;
    if (auto* data = std::get_if<message::stream_data>(&decoded)) {
      if (data->bytes.empty()) co_return;  // end of a stream; END_REQUEST follows
      const auto kind = data->stream == protocol::record_type::std_err ? output_event::kind::err
                                                                        : output_event::kind::out;
      // Named, not a temporary in the co_await: g++ 12 destroys such temporaries twice.
      output_event event{kind, std::string(data->bytes), 0, 0};
      co_await deliver(data->request_id, std::move(event));
    } else if (auto* end = std::get_if<message::end_request>(&decoded)) {
      output_event event{output_event::kind::end, {}, end->app_status, end->protocol_status};
      co_await deliver(end->request_id, std::move(event));
    } else if (auto* result = std::get_if<message::get_values_result>(&decoded)) {
      management.try_send(error_code{}, management_reply{static_cast<std::uint8_t>(
                                                             protocol::record_type::get_values_result),
                                                         std::move(result->pairs), 0});
    } else if (auto* unknown = std::get_if<message::unknown_type>(&decoded)) {
      management.try_send(error_code{},
                          management_reply{static_cast<std::uint8_t>(protocol::record_type::unknown_type), {},
                                           unknown->type});
    }
    // Anything else has no meaning for a client and is skipped.
  }

  awaitable<void> read_loop() {
    auto self = shared_from_this();
    std::string buffer(read_buffer_size, '\0');
    protocol::message_decoder decoder;
    while (open) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
      if (ec) {
        if (ec == asio::error::eof && decoder.at_record_boundary())
          fail_all("connection closed by the server");
        else if (ec == asio::error::eof)
          fail_all("connection closed by the server in the middle of a record");
        else if (ec == asio::error::connection_reset)
          // What closing a socket with unread input looks like from here.
          fail_all("connection closed by the server (reset)");
        else
          fail_all("connection failed: " + ec.message());
        co_return;
      }
      std::string_view input(buffer.data(), n);
      while (!input.empty() && open) {
        protocol::decoded_message decoded;
        bool ready = false;
        std::error_code protocol_error;
        input.remove_prefix(decoder.put(input, decoded, ready, protocol_error));
        if (protocol_error) {
          fail_all("protocol error from the server: " + protocol_error.message());
          co_return;
        }
        if (ready) co_await dispatch(decoded);
      }
    }
  }

  std::uint16_t free_request_id() const {
    std::uint16_t candidate = 1;
    for (const auto& [id, weak] : active) {
      if (id != candidate) break;
      ++candidate;
    }
    if (candidate == 0) throw std::runtime_error("no free FastCGI request id");
    return candidate;
  }
};

}  // namespace detail

// --- exchange ---------------------------------------------------------------

exchange::exchange(std::shared_ptr<detail::exchange_state> state) : state_(std::move(state)) {}

exchange& exchange::operator=(exchange&& other) noexcept {
  if (this != &other) {
    if (state_) state_->events.close();
    state_ = std::move(other.state_);
  }
  return *this;
}

exchange::~exchange() {
  // Unblocks the reader if it waits to hand this request more output.
  if (state_) state_->events.close();
}

std::uint16_t exchange::request_id() const { return state_->request_id; }

awaitable<void> exchange::write_stdin(std::string_view bytes) {
  // Gathered: record headers around the caller's own bytes, no copy.
  const protocol::gathered_records records(protocol::record_type::std_in, state_->request_id, bytes);
  std::vector<asio::const_buffer> buffers;
  for (const auto piece : records.pieces()) buffers.push_back(asio::buffer(piece));
  if (!buffers.empty()) co_await state_->connection->write(buffers);
}

awaitable<void> exchange::end_stdin() {
  std::string record;
  protocol::append_stream_end(record, protocol::record_type::std_in, state_->request_id);
  co_await state_->connection->write(record);
}

awaitable<void> exchange::abort() {
  std::string record;
  protocol::append_abort_request(record, state_->request_id);
  co_await state_->connection->write(record);
}

awaitable<output_event> exchange::next() {
  if (state_->ended) throw std::logic_error("the response has already ended");
  auto [ec, event] = co_await state_->events.async_receive(use_tuple);
  if (ec) {
    const auto& why = state_->connection->failure;
    throw std::runtime_error("request " + std::to_string(state_->request_id) + " has no END_REQUEST: " +
                             (why.empty() ? ec.message() : why));
  }
  if (event.type == output_event::kind::end) state_->ended = true;
  co_return event;
}

// --- connection -------------------------------------------------------------

connection::connection(std::shared_ptr<detail::connection_state> state) : state_(std::move(state)) {}

connection& connection::operator=(connection&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}

connection::~connection() { close(); }

awaitable<connection> connection::connect(std::string_view address) {
  std::string why;
  const auto parsed = protocol::parse_socket_address(address, why);
  if (!parsed) throw std::invalid_argument("bad address '" + std::string(address) + "': " + why);
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<detail::connection_state>(executor);
  co_await connect_socket(state->socket, *parsed);
  asio::co_spawn(executor, state->read_loop(), [](std::exception_ptr failure) {
    // read_loop reports failures to the requests; anything escaping is a bug.
    if (failure) std::rethrow_exception(failure);
  });
  co_return connection(std::move(state));
}

awaitable<exchange> connection::begin(request_options options) {
  auto& state = *state_;
  state.ensure_open();
  if (state.last_request_begun)
    throw std::logic_error("the previous request did not ask to keep the connection open");
  while (state.active.size() >= state.max_in_flight) {
    co_await state.slot_freed.async_wait(use_tuple);
    state.ensure_open();
  }
  const std::uint16_t id = state.free_request_id();
  auto exchange_state =
      std::make_shared<detail::exchange_state>(state.socket.get_executor(), state_, id);
  state.active[id] = exchange_state;
  if (!options.keep_conn) state.last_request_begun = true;

  std::string records;
  protocol::append_begin_request(records, id, options.role, options.keep_conn);
  protocol::append_params(records, id, options.params);
  co_await state.write(records);
  co_return exchange(std::move(exchange_state));
}

awaitable<response> connection::send(request_options options, std::string_view body) {
  using namespace asio::experimental::awaitable_operators;
  auto request = co_await begin(std::move(options));
  response result;
  bool ended = false;
  // The server may answer and close before it reads all of the body; then the
  // response counts, not the failed write.
  std::exception_ptr write_failure;
  auto write_body = [&]() -> awaitable<void> {
    try {
      co_await request.write_stdin(body);
      co_await request.end_stdin();
    } catch (...) {
      write_failure = std::current_exception();
    }
  };
  auto read_response = [&]() -> awaitable<void> {
    while (!ended) {
      auto event = co_await request.next();
      switch (event.type) {
        case output_event::kind::out: result.out += event.bytes; break;
        case output_event::kind::err: result.err += event.bytes; break;
        case output_event::kind::end:
          result.app_status = event.app_status;
          result.protocol_status = event.protocol_status;
          ended = true;
          break;
      }
    }
  };
  co_await (write_body() && read_response());
  if (!ended && write_failure) std::rethrow_exception(write_failure);
  co_return result;
}

awaitable<management_reply> connection::management_request(std::uint8_t type, std::string content) {
  if (content.size() > protocol::max_content_length) throw std::length_error("management record over 65535 bytes");
  // libfcgi 2.4.2 answers a management record only once bytes follow its
  // content, so an aligned one gets 8 bytes of padding (the spec allows any).
  const std::uint8_t padding = content.size() % 8 == 0 ? 8 : protocol::padding_for(content.size());
  const auto header = protocol::encode_header({protocol::version_1, type, protocol::null_request_id,
                                               static_cast<std::uint16_t>(content.size()), padding});
  std::string record(header.data(), header.size());
  record += content;
  record.append(padding, '\0');
  co_await state_->write(record);
  auto [ec, reply] = co_await state_->management.async_receive(use_tuple);
  if (ec) throw std::runtime_error("no reply to management record: " + state_->failure);
  co_return reply;
}

awaitable<protocol::name_value_list> connection::get_values(std::vector<std::string> names) {
  std::string content;
  for (const auto& name : names) protocol::append_name_value(content, name, {});
  auto reply =
      co_await management_request(static_cast<std::uint8_t>(protocol::record_type::get_values), std::move(content));
  if (reply.type != static_cast<std::uint8_t>(protocol::record_type::get_values_result))
    throw std::runtime_error("the server does not understand GET_VALUES");
  co_return std::move(reply.values);
}

awaitable<void> connection::write_raw(std::string bytes) { co_await state_->write(bytes); }

awaitable<void> connection::negotiate() {
  std::vector<std::string> names;
  names.emplace_back(protocol::max_reqs_name);
  names.emplace_back(protocol::mpxs_conns_name);
  const auto values = co_await get_values(std::move(names));
  const auto* mpxs = protocol::find_value(values, protocol::mpxs_conns_name);
  const auto* max_reqs = protocol::find_value(values, protocol::max_reqs_name);
  std::size_t requests = 1;
  if (mpxs && *mpxs == "1" && max_reqs) {
    std::from_chars(max_reqs->data(), max_reqs->data() + max_reqs->size(), requests);
    requests = std::clamp<std::size_t>(requests, 1, 65535);
  }
  set_max_in_flight(requests);
}

void connection::set_max_in_flight(std::size_t requests) {
  state_->max_in_flight = std::max<std::size_t>(requests, 1);
  state_->slot_freed.cancel();
}

std::size_t connection::max_in_flight() const { return state_->max_in_flight; }

bool connection::is_open() const { return state_ && state_->open; }

void connection::close() {
  if (state_) state_->fail_all("connection closed by the client");
}

}  // namespace fcgihost::client
