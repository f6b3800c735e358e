#include "access_line.hpp"

#include <fmt/format.h>

#include <host/common/json_text.hpp>
#include <host/common/log_text.hpp>

namespace fcgihost::host {

namespace {

std::string text_or_dash(const std::string* value) {
  return value && !value->empty() ? log_escaped(*value) : std::string("-");
}

std::string json_or_null(const std::string* value) { return value ? json_quoted(*value) : std::string("null"); }

}  // namespace

std::string access_line_text(const access_record& r) {
  return fmt::format("{} \"{} {}\" {} {} {:.1f}ms script={} runner={}{} app_status={} {}", log_escaped(r.peer),
                     text_or_dash(r.method), text_or_dash(r.uri), r.status, r.bytes, r.elapsed_ms,
                     log_escaped(r.script), log_escaped(r.runner),
                     r.worker_pid != 0 ? fmt::format(" worker={}", r.worker_pid) : "", r.app_status,
                     log_escaped(r.outcome));
}

std::string access_line_json(const access_record& r) {
  return fmt::format(
      "{{\"time\":{},\"peer\":{},\"request_id\":{},\"method\":{},\"uri\":{},\"status\":{},\"bytes\":{},"
      "\"elapsed_ms\":{:.1f},\"script\":{},\"runner\":{},\"worker_pid\":{},\"app_status\":{},\"outcome\":{}}}",
      json_quoted(r.time), json_quoted(r.peer), r.request_id, json_or_null(r.method), json_or_null(r.uri), r.status,
      r.bytes, r.elapsed_ms, json_quoted(r.script), json_quoted(r.runner),
      r.worker_pid != 0 ? std::to_string(r.worker_pid) : std::string("null"), r.app_status, json_quoted(r.outcome));
}

}  // namespace fcgihost::host
