// What a request's end leaves behind: its access line (text or JSON, see
// access_line.hpp) and its figures in the metrics (see metrics.hpp). The
// session fills a request_report; nothing here sees the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <fcgihost/protocol/name_value.hpp>

#include <host/request/request_context.hpp>
#include <host/request/request_lifecycle.hpp>

namespace fcgihost::host {

struct request_report {
  std::string_view peer;
  std::uint16_t request_id = 0;
  const protocol::name_value_list* params = nullptr;
  std::chrono::steady_clock::time_point began;
  std::string_view script;
  std::string_view runner;
  int worker_pid = 0;
  int script_pid = 0;
  int logged_status = 0;  // the HTTP status the client got, 0 for none
  std::uint64_t stdin_bytes = 0;
  std::uint64_t stdout_bytes = 0;
  route_metrics* route = nullptr;  // null: nothing ran
  bool in_worker = false;          // a worker's requests are counted by its host
};

// A param as a log line shows it: "-" when absent or empty (`params` may be null).
std::string_view param_or_dash(const protocol::name_value_list* params, std::string_view name);

// The access line, then the metrics.
void report_request_end(request_context& host, const request_report& report, const request_ending& ending);

}  // namespace fcgihost::host
