#include "socket_connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/socket.h>

#include <stdexcept>

namespace fcgihost::client {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;
namespace {
constexpr auto use_tuple = asio::as_tuple(use_awaitable);
}  // namespace

awaitable<void> connect_socket(asio::generic::stream_protocol::socket& socket, const protocol::socket_address& to) {
  if (to.type == protocol::socket_address::kind::unix_path) {
    auto [ec] = co_await socket.async_connect(asio::local::stream_protocol::endpoint(to.path), use_tuple);
    if (ec) throw std::runtime_error("cannot connect to " + to.to_string() + ": " + ec.message());
    co_return;
  }
  if (to.type == protocol::socket_address::kind::fd) {
    // A socket connected already (one end of a socketpair, an inherited one).
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    if (::getsockname(to.fd, reinterpret_cast<sockaddr*>(&address), &size) != 0)
      throw std::runtime_error("fd:" + std::to_string(to.fd) + " is not a socket");
    socket.assign(asio::generic::stream_protocol(address.ss_family, 0), to.fd);
    co_return;
  }
  if (to.type != protocol::socket_address::kind::tcp)
    throw std::invalid_argument("a client connects to unix:, tcp: or fd:");
  asio::ip::tcp::resolver resolver(socket.get_executor());
  const auto results = co_await resolver.async_resolve(to.host, std::to_string(to.port), use_awaitable);
  error_code last = asio::error::host_not_found;
  for (const auto& entry : results) {
    error_code ignored;
    socket.close(ignored);
    auto [ec] = co_await socket.async_connect(entry.endpoint(), use_tuple);
    if (!ec) {
      socket.set_option(asio::ip::tcp::no_delay(true));
      co_return;
    }
    last = ec;
  }
  throw std::runtime_error("cannot connect to " + to.to_string() + ": " + last.message());
}

}  // namespace fcgihost::client
