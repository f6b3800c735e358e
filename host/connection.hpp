// One connection from a web server: reads records, starts and feeds requests
// (several at once when the server multiplexes), answers management records,
// and serialises the records every request writes. Everything here runs on
// the connection's strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <protocol/message_decoder.hpp>

#include "host_context.hpp"

namespace fcgihost::host {

class request_session;

class connection : public std::enable_shared_from_this<connection> {
 public:
  using socket_type = boost::asio::generic::stream_protocol::socket;

  connection(socket_type socket, host_context& host, std::string peer);
  ~connection();

  // Serves the connection until the peer closes it, it breaks the protocol,
  // or the host closes it.
  boost::asio::awaitable<void> run();

  // From any thread: close now if idle, else once the requests in flight end.
  void drain();
  // From any thread: end every request (their stop tokens fire) and close.
  void shut_down();

  // Writers hold this while they write, so records of concurrent requests
  // never interleave within a record.
  class write_guard {
   public:
    explicit write_guard(connection* owner) : owner_(owner) {}
    write_guard(write_guard&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    write_guard& operator=(write_guard&&) = delete;
    ~write_guard();

   private:
    connection* owner_;
  };
  boost::asio::awaitable<write_guard> acquire_writer();
  // Only while holding a write_guard. Throws when the socket fails.
  boost::asio::awaitable<void> write_now(const std::vector<boost::asio::const_buffer>& buffers);

  // A request is ending: its id is free again. Called before END_REQUEST
  // goes out, because the web server may reuse the id the moment it sees it.
  void release_request_id(std::uint16_t request_id);
  // The request's END_REQUEST went out (or could not).
  void request_done(bool keep_conn);
  // Reading resumes if it paused for a request's backlog of FCGI_STDIN (its
  // runner has caught up, or the request is over; see run()).
  void resume_reading();

  boost::asio::any_io_executor executor() { return socket_.get_executor(); }
  host_context& host() { return host_; }
  const std::string& peer() const { return peer_; }

 private:
  boost::asio::awaitable<void> handle(protocol::decoded_message& message);
  boost::asio::awaitable<void> begin_request(const protocol::message::begin_request& begin);
  boost::asio::awaitable<void> answer_get_values(const protocol::message::get_values& query);
  boost::asio::awaitable<void> write_bytes(std::string bytes);
  void close_socket();
  // Ends the connection after a response: see connection.cpp.
  void close_gracefully();
  void abort_all(const char* why);
  // Whether to stop reading until the only request's runner catches up.
  bool input_backlogged() const;
  boost::asio::awaitable<void> pause_reading();

  socket_type socket_;
  host_context& host_;
  std::string peer_;
  std::shared_ptr<const host_config> settings_;  // as when the connection opened
  protocol::message_decoder decoder_;
  boost::asio::experimental::channel<void(boost::system::error_code)> write_lock_;
  std::map<std::uint16_t, std::shared_ptr<request_session>> requests_;
  bool closing_ = false;  // close once no request is left
  bool lingering_ = false;  // our side is shut down; input is read and dropped
  boost::asio::steady_timer linger_;
  bool reading_paused_ = false;
  boost::asio::steady_timer resume_reading_;  // cancelled to resume
};

}  // namespace fcgihost::host
