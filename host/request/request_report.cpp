#include "request_report.hpp"

#include <host/common/utc_time.hpp>
#include <host/request/access_line.hpp>

namespace fcgihost::host {

namespace {

// One line per request, whatever it carried (access_line.hpp).
void log_access(request_context& host, const request_report& report, const request_ending& ending,
                std::chrono::steady_clock::time_point now) {
  const bool own_access_log = host.access_log && host.access_log != host.log;
  spdlog::logger& access_log = own_access_log ? *host.access_log : *host.log;
  // Built only to be written: at --log-level warn the line would cost a
  // clock read, a format and its escaping per request for nothing.
  if (!access_log.should_log(spdlog::level::info)) return;
  access_record record;
  const std::string time = utc_text(std::chrono::system_clock::now(), true);
  record.time = time;
  record.peer = report.peer;
  record.request_id = report.request_id;
  record.method = report.params ? protocol::find_value(*report.params, "REQUEST_METHOD") : nullptr;
  record.uri = report.params ? protocol::find_value(*report.params, "REQUEST_URI") : nullptr;
  record.status = report.logged_status;
  record.bytes = report.stdout_bytes;
  record.elapsed_ms = std::chrono::duration<double, std::milli>(now - report.began).count();
  record.script = report.script;
  record.runner = report.runner;
  record.worker_pid = report.worker_pid;
  record.app_status = ending.app_status;
  record.outcome = to_string(ending.outcome);
  access_log.info("{}", own_access_log ? access_line_json(record) : access_line_text(record));
}

}  // namespace

std::string_view param_or_dash(const protocol::name_value_list* params, std::string_view name) {
  const auto* value = params ? protocol::find_value(*params, name) : nullptr;
  return value && !value->empty() ? std::string_view(*value) : std::string_view("-");
}

void report_request_end(request_context& host, const request_report& report, const request_ending& ending) {
  const auto now = std::chrono::steady_clock::now();
  log_access(host, report, ending, now);
  if (report.in_worker) return;  // a worker's requests are the host's, counted there
  host.metrics.request_ended(report.route ? *report.route : host.metrics.nothing_ran(),
                             ending.outcome, report.logged_status,
                             std::chrono::duration_cast<std::chrono::microseconds>(now - report.began),
                             report.stdin_bytes, report.stdout_bytes);
}

}  // namespace fcgihost::host
