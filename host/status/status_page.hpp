// The status page the host serves itself at --status-path, in the formats
// php-fpm's users know, chosen by the query string: none for text, `json`,
// or `openmetrics` for the Prometheus text exposition format 0.0.4.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <runners/worker/worker_view.hpp>

#include <host/status/request_view.hpp>

namespace fcgihost::host {

struct host_state;

// What `full` adds: each request in flight and each worker, gathered by the
// caller (requests are read on their connections' strands).
struct full_status {
  std::vector<request_view> requests;  // most_requests_on_a_page at most
  std::size_t requests_not_listed = 0;
  std::vector<runners::worker_view> workers;
};

// Whether the query asks for the full view (`full`, as php-fpm's `?full`).
bool status_wants_full(std::string_view query_string);

// The whole CGI response (headers and body) for a status request.
std::string status_response(const host_state& host, std::string_view query_string,
                            const full_status* full = nullptr);

}  // namespace fcgihost::host
