// The host's logger: stderr by default, a file with --log-file; one access
// line per request, warnings for what went wrong.
#pragma once

#include <spdlog/logger.h>

#include <memory>

#include "config.hpp"

namespace fcgihost::host {

std::shared_ptr<spdlog::logger> make_logger(const host_config& config);
// Where access lines go: the log itself for text; for json, a logger of its
// own to the same place that writes each line as it is, with no prefix.
std::shared_ptr<spdlog::logger> make_access_logger(const host_config& config, std::shared_ptr<spdlog::logger> log);

}  // namespace fcgihost::host
