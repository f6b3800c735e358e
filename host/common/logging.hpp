// The host's logger: stderr by default, a file with --log-file; one access
// line per request, warnings for what went wrong.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace fcgihost::host {

// Where the log goes and how much of it (the settings log-file, log-level
// and access-log-format).
struct log_place {
  std::string file;  // empty: stderr
  std::string level = "info";
  bool json_access_lines = false;
};

std::shared_ptr<spdlog::logger> make_logger(const log_place& where);
// Where access lines go: the log itself for text; for json, a logger of its
// own to the same place that writes each line as it is, with no prefix.
std::shared_ptr<spdlog::logger> make_access_logger(const log_place& where, std::shared_ptr<spdlog::logger> log);

}  // namespace fcgihost::host
