#include "logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace fcgihost::host {

namespace {
// A formatter belongs to a sink: two patterns to one place take two sinks.
// Each line goes out whole in one write (the file is appended to, stderr's
// stdio lock is held per line), so the two never cut into each other's lines.
std::shared_ptr<spdlog::sinks::sink> log_sink(const host_config& config) {
  if (config.log_file.empty()) return std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.log_file);  // appends
}
}  // namespace

std::shared_ptr<spdlog::logger> make_access_logger(const host_config& config, std::shared_ptr<spdlog::logger> log) {
  if (config.access_log_format != "json") return log;
  auto logger = std::make_shared<spdlog::logger>("fcgi-host-access", log_sink(config));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::shared_ptr<spdlog::logger> make_logger(const host_config& config) {
  auto logger = std::make_shared<spdlog::logger>("fcgi-host", log_sink(config));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace fcgihost::host
