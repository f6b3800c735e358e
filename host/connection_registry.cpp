#include "connection_registry.hpp"

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

}  // namespace fcgihost::host
