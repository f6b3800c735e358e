#include "logging.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <host/common/log_text.hpp>

namespace fcgihost::host {

namespace {

// Escapes each message (log_text.hpp) before `inner` writes it: one call to
// the logger is one line, whatever its arguments held.
class escaping_sink final : public spdlog::sinks::sink {
 public:
  explicit escaping_sink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& message) override {
    const std::string_view payload(message.payload.data(), message.payload.size());
    if (log_safe(payload)) {
      inner_->log(message);
      return;
    }
    const std::string escaped = log_escaped(payload);
    spdlog::details::log_msg copy = message;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    inner_->log(copy);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> inner_;
};
// A formatter belongs to a sink: two patterns to one place take two sinks.
// Each line goes out whole in one write (the file is appended to, stderr's
// stdio lock is held per line), so the two never cut into each other's lines.
// Every message is escaped (log_text.hpp): bytes from outside never make a line.
std::shared_ptr<spdlog::sinks::sink> log_sink(const log_place& where) {
  std::shared_ptr<spdlog::sinks::sink> place;
  if (where.file.empty())
    place = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  else
    place = std::make_shared<spdlog::sinks::basic_file_sink_mt>(where.file);  // appends
  return std::make_shared<escaping_sink>(std::move(place));
}
}  // namespace

std::shared_ptr<spdlog::logger> make_access_logger(const log_place& where, std::shared_ptr<spdlog::logger> log) {
  if (!where.json_access_lines) return log;
  auto logger = std::make_shared<spdlog::logger>("fcgi-host-access", log_sink(where));
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return logger;
}

std::shared_ptr<spdlog::logger> make_logger(const log_place& where) {
  auto logger = std::make_shared<spdlog::logger>("fcgi-host", log_sink(where));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(where.level));
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace fcgihost::host
