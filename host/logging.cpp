#include "logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace fcgihost::host {

std::shared_ptr<spdlog::logger> make_logger(const host_config& config) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (config.log_file.empty())
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  else
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.log_file);  // appends
  auto logger = std::make_shared<spdlog::logger>("fcgi-host", std::move(sink));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(config.log_level));
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace fcgihost::host
