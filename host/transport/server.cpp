#include "server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <runners/common/exception_text.hpp>

#include <cstring>

#include <host/transport/connection.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

server::server(asio::io_context& io, host_context& host, const std::vector<listener>& listeners)
    : io_(io), host_(host) {
  for (const auto& l : listeners) {
    auto acceptor = std::make_unique<acceptor_type>(io_);
    acceptor->assign(asio::generic::stream_protocol(l.family, 0), l.fd);
    acceptor->non_blocking(true);  // see accept_loop
    listening_.push_back({std::move(acceptor), l.description, l.status_only});
  }
}

void server::start() {
  for (auto& where : listening_) {
    asio::co_spawn(io_, accept_loop(where), [log = host_.log, description = where.description](std::exception_ptr failure) {
      if (failure) log->critical("accepting on {} stopped: {}", description, runners::exception_text(failure));
    });
  }
}

void server::serve_connected(int fd, const std::string& description) {
  socket_type socket(asio::make_strand(io_));
  socket.assign(asio::generic::stream_protocol(AF_UNIX, 0), fd);
  run_connection(std::make_shared<connection>(std::move(socket), host_, description, false), description, false);
}

void server::run_connection(std::shared_ptr<connection> conn, const std::string& peer_name, bool status_only) {
  host_.connections.add(conn);
  auto run = conn->run();
  const auto executor = conn->executor();
  // The handler holds the connection until run() has begun, which holds it
  // itself: from an I/O thread the start runs inline, from start-up it waits.
  asio::co_spawn(executor, std::move(run),
                 [log = host_.log, peer_name, status_only, &count = status_connections_, conn = std::move(conn)](
                     std::exception_ptr failure) {
                   if (status_only) count--;
                   if (failure)
                     log->error("{}: connection failed inside the host: {}", peer_name,
                                runners::exception_text(failure));
                 });
}

// Every connection already waiting is taken at once, not one a turn of the
// event loop: under load each turn also runs every other connection's work,
// and of 100 connections that arrived together the last was read 110 ms
// late (and its deadline, as its client sees it, overran as much).
constexpr int accept_batch = 256;

awaitable<void> server::accept_loop(listening& where) {
  auto& acceptor = *where.acceptor;
  const auto& description = where.description;
  while (acceptor.is_open()) {
    // Each connection gets a strand of its own: its coroutines never run at once.
    // The peer's address comes with the accept (no getpeername per connection).
    acceptor_type::endpoint_type peer;
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(io_), peer, asio::as_tuple(use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      host_.log->error("accept on {} failed: {}", description, ec.message());
      if (ec == asio::error::no_descriptors) {
        // Out of file descriptors: give the open connections time to end.
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(use_awaitable));
      }
      continue;
    }
    admit(std::move(socket), peer, where);
    for (int more = 0; more < accept_batch && acceptor.is_open(); ++more) {
      socket_type next(asio::make_strand(io_));
      acceptor.accept(next, peer, ec);  // the acceptor does not block
      if (ec) break;  // would block: none waiting (other errors show at the next async_accept)
      admit(std::move(next), peer, where);
    }
  }
}

// Enough for a few monitors and load balancers polling at once.
constexpr std::size_t most_status_connections = 64;

bool server::admit_status_connection(const std::string& peer_name, const listening& where) {
  if (status_connections_.fetch_add(1) < most_status_connections) return true;
  status_connections_--;
  if (std::string more; host_.refused_connections_log.allow(more))
    host_.log->warn("refused a connection from {} on {}: {} status connections already open{}", peer_name,
                    where.description, most_status_connections, more);
  ++host_.metrics.connections_refused;
  return false;
}

void server::admit(socket_type socket, const acceptor_type::endpoint_type& remote, const listening& where) {
  const auto& description = where.description;
  boost::system::error_code ec;
  sockaddr_storage peer{};
  std::memcpy(&peer, remote.data(), std::min<std::size_t>(remote.size(), sizeof peer));
  const std::string peer_name = describe_peer(peer);
  if (!host_.peers.allows(peer)) {
    if (std::string more; host_.refused_connections_log.allow(more))
      host_.log->warn("refused a connection from {} on {}: not in FCGI_WEB_SERVER_ADDRS{}", peer_name, description,
                      more);
    ++host_.metrics.connections_refused;
    return;  // the socket closes as it goes out of scope
  }
  const auto settings = host_.settings();
  if (where.status_only) {
    if (!admit_status_connection(peer_name, where)) return;
  } else if (host_.open_connections >= settings->max_connections) {
    // Room is made by closing the connection that has waited longest
    // without sending a byte and runs no request: stalled peers cannot
    // keep a real one out.
    auto victim = longest_silent_connection();
    if (!victim) {
      if (std::string more; host_.refused_connections_log.allow(more))
        host_.log->warn("refused a connection from {} on {}: {} connections already open (max-connections), all "
                        "with requests running{}", peer_name, description, settings->max_connections, more);
      ++host_.metrics.connections_refused;
      return;
    }
    victim->evict();
    ++host_.metrics.connections_evicted;
  }
  if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) socket.set_option(asio::ip::tcp::no_delay(true), ec);
  host_.metrics.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  host_.log->debug("connection from {} on {}", peer_name, description);
  run_connection(std::make_shared<connection>(std::move(socket), host_, peer_name, where.status_only), peer_name,
                 where.status_only);
}

std::shared_ptr<connection> server::longest_silent_connection() {
  while (true) {
    std::shared_ptr<connection> longest;
    for (auto& conn : host_.connections.live()) {
      if (conn->status_only() || conn->serving() || conn->evicting()) continue;
      if (!longest || conn->last_input() < longest->last_input()) longest = std::move(conn);
    }
    // Two listeners' accepts may pick the same one: only one marks it.
    if (!longest || longest->try_mark_evicting()) return longest;
  }
}

void server::stop_accepting_and_drain() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    for (auto& where : listening_) where.acceptor->close(ignored);
  });
  for (auto& conn : host_.connections.live()) conn->drain();
}

void server::shut_down_connections() {
  for (auto& conn : host_.connections.live()) conn->shut_down();
}

}  // namespace fcgihost::host
