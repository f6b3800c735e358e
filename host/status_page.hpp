// The status page the host serves itself at --status-path, in the formats
// php-fpm's users know, chosen by the query string: none for text, `json`,
// or `openmetrics` for the Prometheus text exposition format 0.0.4.
#pragma once

#include <string>
#include <string_view>

namespace fcgihost::host {

struct host_context;

// The whole CGI response (headers and body) for a status request.
std::string status_response(const host_context& host, std::string_view query_string);

}  // namespace fcgihost::host
