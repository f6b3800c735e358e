// The requests in flight on all the host's connections, for the status
// page's full view: each connection's are read on its own strand.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstddef>

#include <host/status/request_view.hpp>

namespace fcgihost::host {

class request_census {
 public:
  virtual ~request_census() = default;
  // At most `most` views, and how many requests there are in all.
  virtual boost::asio::awaitable<requests_seen> requests_in_flight(std::size_t most) const = 0;
};

}  // namespace fcgihost::host
