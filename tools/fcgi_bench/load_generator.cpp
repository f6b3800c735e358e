#include "load_generator.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <list>
#include <optional>
#include <vector>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>
#include <fcgihost/protocol/response_status.hpp>
#include <fcgihost/protocol/stream_framing.hpp>
#include <client/socket_connect.hpp>

namespace fcgihost::bench {

namespace asio = boost::asio;
using asio::awaitable;
using error_code = boost::system::error_code;
using clock = std::chrono::steady_clock;
using socket_type = asio::generic::stream_protocol::socket;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// --- engine -----------------------------------------------------------------

namespace {

// FCGI_STDIN bytes per record when a body is sent (a multiple of 8: no padding).
constexpr std::size_t body_block_size = 65528;
constexpr std::size_t read_buffer_size = 64 * 1024;
// A connection that cannot connect this many times in a row gives up.
constexpr int connect_attempts = 3;

struct request_slot {
  bool busy = false;
  clock::time_point started;
  protocol::response_status status;
};

}  // namespace

struct load_generator::engine {
  engine(const bench_options& settings, shared_budget& shared, bench_results& counts, std::size_t connection_count,
         std::size_t request_depth)
      : options(settings), budget(shared), results(counts), connections(connection_count), depth(request_depth),
        deadline_timer(io), body_block(body_block_size, 'x') {
    for (std::size_t i = 0; i < depth; ++i)
      request_heads.push_back(encode_request_head(options, static_cast<std::uint16_t>(i + 1)));
  }

  // One connection at a time, for as long as there are requests to make.
  awaitable<void> drive() {
    int failures = 0;
    // A connection is made for a request already taken from the budget, so
    // none is opened only to find the budget spent.
    while (budget.take()) {
      socket_type socket(io);
      if (!co_await connect(socket)) {
        ++results.connect_errors;
        ++budget.failed;
        if (++failures >= connect_attempts) co_return;
        asio::steady_timer pause(io, std::chrono::milliseconds(10));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      failures = 0;
      auto registered = open_sockets.insert(open_sockets.end(), &socket);
      co_await run_session(socket);
      open_sockets.erase(registered);
    }
  }

  awaitable<bool> connect(socket_type& socket) {
    try {
      co_await client::connect_socket(socket, options.address);
      co_return true;
    } catch (const std::exception& e) {
      budget.note_connect_failure(e.what());
      co_return false;
    }
  }

  struct session {
    explicit session(asio::io_context& io, std::size_t depth) : slots(depth), slot_freed(io), watchdog(io) {
      slot_freed.expires_at(clock::time_point::max());
    }
    std::vector<request_slot> slots;
    std::size_t in_flight = 0;
    bool no_more = false;  // the budget is spent: no request will start here
    bool first_taken = true;  // drive() took the first request from the budget
    bool failed = false;   // the connection failed: its requests in flight are counted once
    asio::steady_timer slot_freed;  // never expires: cancelled to wake the writer
    asio::steady_timer watchdog;
  };

  awaitable<void> run_session(socket_type& socket) {
    using namespace asio::experimental::awaitable_operators;
    session state(io, depth);
    // The reader ends the session: when the server closes, or when nothing
    // is left to ask; the writer and the watchdog only ever wait for more.
    co_await (read_responses(socket, state) || write_requests(socket, state) || watch_timeouts(socket, state));
    error_code ignored;
    socket.close(ignored);
  }

  awaitable<void> write_requests(socket_type& socket, session& state) {
    std::vector<std::uint16_t> started;
    std::vector<asio::const_buffer> batch;
    while (true) {
      started.clear();
      batch.clear();
      for (std::size_t i = 0; i < state.slots.size() && !state.no_more; ++i) {
        auto& slot = state.slots[i];
        if (slot.busy) continue;
        if (state.first_taken) {
          state.first_taken = false;
        } else if (!budget.take()) {
          state.no_more = true;
          break;
        }
        slot.busy = true;
        slot.started = clock::now();
        slot.status = protocol::response_status{};
        ++state.in_flight;
        batch.push_back(asio::buffer(request_heads[i]));
        started.push_back(static_cast<std::uint16_t>(i + 1));
        if (!options.keep_conn) break;  // one request per connection
      }
      if (!batch.empty()) {
        auto [ec, written] = co_await asio::async_write(socket, batch, use_tuple);
        if (ec) {
          connection_failed(state, ec);
          co_return;
        }
        results.bytes_out += written;
        for (const auto id : started)
          if (options.body_size > 0 && !co_await write_body(socket, id)) {
            connection_failed(state, asio::error::broken_pipe);
            co_return;
          }
      }
      // Nothing in flight and nothing to ask: the session is over.
      if (state.no_more && state.in_flight == 0) co_return;
      // Responses that came in while we wrote freed slots already (their
      // wake-up found nobody waiting).
      if (!state.no_more && state.in_flight < state.slots.size() && options.keep_conn) continue;
      co_await state.slot_freed.async_wait(use_tuple);  // cancelled by each END_REQUEST
      if (co_await cancelled()) co_return;
    }
  }

  // True once the session is over (another branch of run_session ended).
  static awaitable<bool> cancelled() {
    auto state = co_await asio::this_coro::cancellation_state;
    co_return state.cancelled() != asio::cancellation_type::none;
  }

  // The requests in flight on a connection that failed count as resets,
  // unless the failure is ours (the deadline, a timeout).
  void connection_failed(session& state, error_code ec) {
    if (state.failed) return;
    state.failed = true;
    if (budget.stopping() || ec == asio::error::operation_aborted || state.in_flight == 0) return;
    results.resets += state.in_flight;
    budget.failed += state.in_flight;
  }

  awaitable<bool> write_body(socket_type& socket, std::uint16_t id) {
    for (std::uint64_t left = options.body_size; left > 0;) {
      const auto size = static_cast<std::size_t>(std::min<std::uint64_t>(left, body_block.size()));
      const protocol::gathered_records records(protocol::record_type::std_in, id,
                                               std::string_view(body_block.data(), size));
      std::vector<asio::const_buffer> buffers;
      for (const auto piece : records.pieces()) buffers.push_back(asio::buffer(piece));
      auto [ec, written] = co_await asio::async_write(socket, buffers, use_tuple);
      if (ec) co_return false;
      results.bytes_out += written;
      left -= size;
    }
    std::string end;
    protocol::append_stream_end(end, protocol::record_type::std_in, id);
    auto [ec, written] = co_await asio::async_write(socket, asio::buffer(end), use_tuple);
    results.bytes_out += written;
    co_return !ec;
  }

  awaitable<void> read_responses(socket_type& socket, session& state) {
    std::string buffer(read_buffer_size, '\0');
    protocol::message_decoder decoder;
    while (true) {
      auto [ec, count] = co_await socket.async_read_some(asio::buffer(buffer), use_tuple);
      if (ec) {
        connection_failed(state, ec);
        co_return;
      }
      bool done = false;  // the last of its requests ended
      const auto protocol_error = decoder.put_all(std::string_view(buffer.data(), count), [&](auto& message) {
        if (const auto* data = std::get_if<protocol::message::stream_data>(&message)) {
          results.bytes_in += data->bytes.size();
          if (data->stream == protocol::record_type::std_out && data->request_id >= 1 &&
              data->request_id <= state.slots.size())
            state.slots[data->request_id - 1].status.feed(data->bytes);
        } else if (const auto* end = std::get_if<protocol::message::end_request>(&message)) {
          if (!finish_request(state, *end)) return;
          // Without keep-conn the server closes now; else the run may be over.
          if (!options.keep_conn || (state.no_more && state.in_flight == 0)) done = true;
        }
      });
      if (protocol_error) {
        state.failed = true;  // counted here, not as resets
        results.protocol_errors += std::max<std::size_t>(state.in_flight, 1);
        budget.failed += std::max<std::size_t>(state.in_flight, 1);
        co_return;
      }
      if (done) co_return;
    }
  }

  // False for an END_REQUEST of no request of ours.
  bool finish_request(session& state, const protocol::message::end_request& end) {
    if (end.request_id < 1 || end.request_id > state.slots.size()) return false;
    auto& slot = state.slots[end.request_id - 1];
    if (!slot.busy) return false;
    slot.busy = false;
    --state.in_flight;
    state.slot_freed.cancel();
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - slot.started);
    ++budget.completed;
    if (!results.count_answer(elapsed, end.protocol_status, slot.status.status())) ++budget.failed;
    return true;
  }

  // A request past --timeout is counted and its connection closed (FastCGI
  // has no way to take back one request but ABORT, which a server may ignore).
  awaitable<void> watch_timeouts(socket_type& socket, session& state) {
    const bool timed = options.timeout.count() > 0;
    const auto interval = std::max(std::chrono::milliseconds(1), options.timeout / 10);
    while (true) {
      if (timed)
        state.watchdog.expires_after(interval);
      else
        state.watchdog.expires_at(clock::time_point::max());
      co_await state.watchdog.async_wait(use_tuple);
      if (co_await cancelled()) co_return;
      const auto now = clock::now();
      std::size_t late = 0;
      for (auto& slot : state.slots)
        if (slot.busy && now - slot.started >= options.timeout) ++late;
      if (late == 0) continue;
      results.timeouts += late;
      budget.failed += late;
      for (auto& slot : state.slots) slot.busy = false;
      state.in_flight = 0;
      state.failed = true;  // counted as timeouts
      error_code ignored;
      socket.close(ignored);  // the reader ends the session
    }
  }

  void run() {
    std::size_t driving = connections;
    for (std::size_t i = 0; i < connections; ++i)
      asio::co_spawn(io, drive(), [this, &driving](std::exception_ptr failure) {
        if (failure) std::rethrow_exception(failure);
        if (--driving == 0) deadline_timer.cancel();  // all done before the deadline
      });
    if (budget.deadline() != clock::time_point::max()) {
      deadline_timer.expires_at(budget.deadline());
      deadline_timer.async_wait([this](error_code ec) {
        if (ec) return;
        budget.stop();
        // Requests still in flight are not counted, as wrk does.
        for (auto* socket : open_sockets) {
          error_code ignored;
          socket->close(ignored);
        }
      });
    }
    io.run();
  }

  const bench_options& options;
  shared_budget& budget;
  bench_results& results;
  const std::size_t connections;
  const std::size_t depth;
  asio::io_context io{1};
  asio::steady_timer deadline_timer;
  std::list<socket_type*> open_sockets;
  std::vector<std::string> request_heads;
  const std::string body_block;
};

load_generator::load_generator(const bench_options& options, shared_budget& budget, std::size_t connections,
                               std::size_t depth)
    : engine_(std::make_unique<engine>(options, budget, results_, connections, depth)) {}

load_generator::~load_generator() = default;

void load_generator::run() { engine_->run(); }

}  // namespace fcgihost::bench
