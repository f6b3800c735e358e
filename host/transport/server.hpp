// Accepts connections on every listener (refusing peers FCGI_WEB_SERVER_ADDRS
// does not name; at the limit, closing the longest silent connection), keeps track of them, and
// drains them on shutdown.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <memory>
#include <vector>

#include <host/transport/host_context.hpp>
#include <host/transport/listeners.hpp>

namespace fcgihost::host {

class connection;

class server {
 public:
  server(boost::asio::io_context& io, host_context& host, const std::vector<listener>& listeners);

  void start();
  // Serves a socket that is connected already (CGI mode: the host's end of a
  // socketpair) as a connection of its own.
  void serve_connected(int fd, const std::string& description);
  // SIGTERM: no new connections; idle ones close now, busy ones after their requests.
  void stop_accepting_and_drain();
  // The drain ran out of time: every request still running is aborted.
  void shut_down_connections();

 private:
  using acceptor_type = boost::asio::basic_socket_acceptor<boost::asio::generic::stream_protocol>;
  using socket_type = boost::asio::generic::stream_protocol::socket::rebind_executor<
      boost::asio::strand<boost::asio::io_context::executor_type>>::other;
  struct listening {
    std::unique_ptr<acceptor_type> acceptor;
    std::string description;
    bool status_only = false;  // --status-listen: the ping and status paths only
  };
  boost::asio::awaitable<void> accept_loop(listening& where);
  // Registers and runs a connection until it ends.
  void run_connection(std::shared_ptr<connection> conn, const std::string& peer_name, bool status_only);
  // Takes a new connection in, or refuses it.
  void admit(socket_type socket, const acceptor_type::endpoint_type& peer, const listening& where);
  // A status listener's connections are few and count in no limit of the
  // others: a full host still answers them.
  bool admit_status_connection(const std::string& peer_name, const listening& where);
  // The connection to close for a new one at max-connections (and marked so
  // it is not chosen twice), or none when every one runs a request.
  std::shared_ptr<connection> longest_silent_connection();

  boost::asio::io_context& io_;
  host_context& host_;
  std::vector<listening> listening_;
  std::atomic<std::size_t> status_connections_{0};
};

}  // namespace fcgihost::host
