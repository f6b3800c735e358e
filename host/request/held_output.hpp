// What a request's lifecycle held back (request_lifecycle::take_held_output)
// written through its connection, in pieces: by a session and by a worker's
// quick request, only while holding the connection's writer.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <host/request/request_lifecycle.hpp>
#include <host/request/request_sink.hpp>

namespace fcgihost::host {

boost::asio::awaitable<void> send_held_output(request_lifecycle& lifecycle, request_sink& sink);

}  // namespace fcgihost::host
