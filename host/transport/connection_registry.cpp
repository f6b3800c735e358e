#include "connection_registry.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iterator>

#include <host/transport/connection.hpp>

namespace fcgihost::host {

void connection_registry::add(const std::shared_ptr<connection>& conn) {
  std::lock_guard lock(mutex_);
  connections_.remove_if([](const auto& weak) { return weak.expired(); });
  connections_.push_back(conn);
}

std::vector<std::shared_ptr<connection>> connection_registry::live() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<connection>> alive;
  for (const auto& weak : connections_)
    if (auto conn = weak.lock()) alive.push_back(std::move(conn));
  return alive;
}

boost::asio::awaitable<requests_seen> connection_registry::requests_in_flight(std::size_t most) const {
  namespace asio = boost::asio;
  requests_seen all;
  for (auto& conn : live()) {
    // The cancellation of the asking request must not reach into another strand's coroutine.
    auto seen = co_await asio::co_spawn(conn->executor(), conn->requests_now(most - all.views.size()),
                                        asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    all.in_all += seen.in_all;
    all.views.insert(all.views.end(), std::make_move_iterator(seen.views.begin()),
                     std::make_move_iterator(seen.views.end()));
  }
  co_return all;
}

}  // namespace fcgihost::host
