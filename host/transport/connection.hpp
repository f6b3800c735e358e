// One connection from a web server: a thin loop that reads records, starts
// and feeds requests (several at once when the server multiplexes), answers
// management records and serialises the records every request writes.
// Everything here runs on the connection's strand. However the connection
// ends (EOF, reset, a failed write, bad input, an exception, a timeout, the
// host stopping), it ends through tear_down(): every request on it ends and
// the descriptor is closed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fcgihost/protocol/message_decoder.hpp>

#include <runners/function/handler_lookup.hpp>

#include <host/transport/connection_fsm.hpp>
#include <host/transport/host_context.hpp>
#include <host/request/quick_request.hpp>
#include <host/request/request_sink.hpp>
#include <host/status/request_view.hpp>

namespace fcgihost::host {

class request_session;

class connection final : public quick_lane_owner, public std::enable_shared_from_this<connection> {
 public:
  using socket_type = boost::asio::generic::stream_protocol::socket;
  using clock = std::chrono::steady_clock;

  // `status_only`: from a --status-listen listener (see request_session).
  connection(socket_type socket, host_context& host, std::string peer, bool status_only = false);
  ~connection() override;

  // Serves the connection until it ends, however it ends.
  boost::asio::awaitable<void> run();

  // From any thread: close now if idle, else once the requests in flight end.
  void drain();
  // From any thread: end every request (their stop tokens fire) and close.
  void shut_down();
  // From any thread: closed to make room for a new connection (see server).
  void evict();
  // From any thread: whether a request runs on it, and when it last sent a byte.
  bool serving() const { return started_requests_.load(std::memory_order_relaxed) > 0; }
  clock::time_point last_input() const { return clock::time_point(clock::duration(last_input_.load())); }
  bool evicting() const { return evicting_.load(); }
  // Chosen to be evicted: false if another accept chose it first.
  bool try_mark_evicting() { return !evicting_.exchange(true); }
  bool status_only() const { return status_only_; }
  // Its requests now, for the status page (at most `most` described): run
  // it on the connection's strand.
  boost::asio::awaitable<requests_seen> requests_now(std::size_t most);

  // request_sink
  boost::asio::awaitable<write_guard> acquire_writer() override;
  boost::asio::awaitable<void> write_now(const std::vector<boost::asio::const_buffer>& buffers) override;
  bool alone(std::uint16_t request_id) const override;
  void release_request(std::uint16_t request_id) override;
  void request_done(bool keep_conn) override;
  void resume_reading() override;
  void tear_down(close_reason why) override;

  boost::asio::any_io_executor executor() { return socket_.get_executor(); }
  const std::string& peer() const { return peer_; }

  // In a worker: a quick lane request has ended; its last records go out
  // now (see connection_quick_lane.cpp). On the strand.
  void quick_request_ended(const std::shared_ptr<quick_request>& request) override;

 protected:
  void release_writer() override;

 private:
  boost::asio::awaitable<close_reason> serve();
  boost::asio::awaitable<void> handle(protocol::decoded_message& message);
  boost::asio::awaitable<void> begin_request(const protocol::message::begin_request& begin);
  boost::asio::awaitable<void> answer_get_values(const protocol::message::get_values& query);
  boost::asio::awaitable<void> write_bytes(std::string bytes);
  boost::asio::awaitable<bool> write_locked(const std::string& bytes);
  // Does what the state machine says after an event (see connection_action).
  void perform(const connection_action& action);
  void arm_timer(clock::time_point at);
  void close_now(const connection_action& action);
  void close_socket();
  // Bytes the peer sent that are not read yet.
  bool input_waiting();
  // Whether to stop reading until the only request's runner catches up.
  bool input_backlogged() const;
  boost::asio::awaitable<void> pause_reading(clock::time_point until);

  // The quick lane, in a worker only (connection_quick_lane.cpp): requests
  // that arrive whole for a handler on the fast path, served without a
  // request_session. True when the record was the lane's to handle.
  bool lane_handle(protocol::decoded_message& decoded);
  bool lane_take(const protocol::message::begin_request& begin);
  // A handler of the worker's plugin on the fast path that PARAMS name, or null.
  std::optional<runners::bound_handler> lane_handler_for(const protocol::name_value_list& params);
  // Hands the lane's requests from `first` on, in order, to sessions.
  void lane_hand_on(std::size_t first);
  void lane_launch_next();
  void lane_run(const std::shared_ptr<quick_request>& request);
  void lane_run_done(const std::shared_ptr<quick_request>& request);
  void lane_write_end(std::string bytes, bool keep_conn);
  boost::asio::awaitable<void> lane_write_rest(std::optional<write_guard> held, std::string bytes, std::size_t from,
                                               bool keep_conn);
  void lane_close();

  std::vector<std::shared_ptr<request_session>> runs_to_launch_;  // begun by the read being handled
  // The quick lane's requests, in the order they came (all before any in
  // requests_); at most one runs at a time.
  std::deque<std::shared_ptr<quick_request>> lane_;
  bool lane_running_ = false;
  socket_type socket_;
  host_context& host_;
  std::string peer_;
  const bool status_only_;
  protocol::message_decoder decoder_;
  connection_fsm fsm_;
  boost::asio::experimental::channel<void(boost::system::error_code)> write_lock_;
  std::map<std::uint16_t, std::shared_ptr<request_session>> requests_;
  // Of requests_, those whose PARAMS are complete (the state machine's count,
  // mirrored: the server reads it from another thread, in serving()).
  std::atomic<std::size_t> started_requests_{0};
  bool sent_end_of_output_ = false;  // shut for sending (a lingering close)
  bool reading_paused_ = false;
  boost::asio::steady_timer resume_reading_;  // cancelled to resume
  // The state machine's one timer: timeouts, the first request's grace, the linger.
  boost::asio::steady_timer timer_;
  std::atomic<clock::rep> last_input_{clock::now().time_since_epoch().count()};
  std::atomic<bool> evicting_{false};
};

}  // namespace fcgihost::host
