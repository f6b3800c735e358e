// In a worker: the record a request's END_REQUEST follows (see
// worker_protocol::run_time_value): how long its handler ran (-1: it had not
// returned) and the outcome, which the host logs in its own access line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <host/common/request_outcome.hpp>

namespace fcgihost::host {

std::string run_time_record(std::uint16_t request_id, std::optional<std::chrono::microseconds> handler_ran,
                            request_outcome outcome);

}  // namespace fcgihost::host
