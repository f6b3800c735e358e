// The host's open connections, for what concerns all of them: the drain at
// shutdown, the eviction at max-connections, the status page's full view.
// Connections are held weakly: each lives as long as its own loop.
// Thread-safe; its lock is taken once per connection, never per request.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include <host/request/request_census.hpp>

namespace fcgihost::host {

class connection;

class connection_registry final : public request_census {
 public:
  void add(const std::shared_ptr<connection>& conn);
  std::vector<std::shared_ptr<connection>> live() const;
  boost::asio::awaitable<requests_seen> requests_in_flight(std::size_t most) const override;

 private:
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<connection>> connections_;
};

}  // namespace fcgihost::host
