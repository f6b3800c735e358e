// The host's logger: stderr by default, a file with --log-file; one access
// line per request, warnings for what went wrong.
#pragma once

#include <spdlog/logger.h>

#include <memory>

#include "config.hpp"

namespace fcgihost::host {

std::shared_ptr<spdlog::logger> make_logger(const host_config& config);

}  // namespace fcgihost::host
