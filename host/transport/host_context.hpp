// What every connection of the host shares: what requests share
// (request_context.hpp), the open connections and the peer filter.
#pragma once

#include <fcgihost/protocol/name_value.hpp>

#include <host/common/log_throttle.hpp>
#include <host/request/request_context.hpp>
#include <host/transport/connection_registry.hpp>
#include <host/transport/peer_filter.hpp>

namespace fcgihost::host {

struct host_context : request_context {
  host_context() { census = &connections; }
  host_context(const host_context&) = delete;
  host_context& operator=(const host_context&) = delete;

  connection_registry connections;
  peer_filter peers;
  // Warnings for refused connections, at most 10 a second.
  log_throttle refused_connections_log;
  // More that GET_VALUES answers (a worker tells its host its handlers).
  protocol::name_value_list extra_values;
};

}  // namespace fcgihost::host
