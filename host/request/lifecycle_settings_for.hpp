// A request's lifecycle settings, from the configuration in force at its
// BEGIN_REQUEST (a session's and, in a worker, a quick lane request's).
#pragma once

#include <cstdint>

#include <host/config/config.hpp>
#include <host/request/request_lifecycle.hpp>

namespace fcgihost::host {

inline lifecycle_settings lifecycle_settings_for(const host_config& config, std::uint16_t request_id) {
  lifecycle_settings settings;
  settings.request_id = request_id;
  settings.max_body_bytes = config.max_body_bytes;
  settings.full_duplex = config.full_duplex;
  settings.timeout_status = config.timeout_status;
  return settings;
}

}  // namespace fcgihost::host
