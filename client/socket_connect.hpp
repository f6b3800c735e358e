// Connecting a socket to a unix: or tcp: address (every address the name
// resolves to, in turn; TCP_NODELAY set), for the client library and fcgi-bench.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>

#include <fcgihost/protocol/socket_address.hpp>

namespace fcgihost::client {

// Throws std::runtime_error saying where and why it could not connect.
boost::asio::awaitable<void> connect_socket(boost::asio::generic::stream_protocol::socket& socket,
                                            const protocol::socket_address& to);

}  // namespace fcgihost::client
