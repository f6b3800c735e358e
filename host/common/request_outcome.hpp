// How a request ended: one value, decided once by its lifecycle, that the
// access line, the log, the metrics and the status page all print. The HTTP
// status the client got is told apart on its own (`status`, and the metrics'
// status classes): a handler that answers 404 ended `done`.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace fcgihost::host {

enum class request_outcome {
  done,             // the runner ended on its own, or the host answered (ping, status)
  answered,         // the handler answered and runs on after the response
  not_found,        // nothing to run at that path: 404
  forbidden,        // a path that may not be run (or an authorizer's denial): 403
  failed,           // the runner failed (exception, launch error, a plugin that cannot load), or the host
  crashed,          // the process running it died: 502
  bad_response,     // the output did not start with a CGI header block: 502
  timeout,          // the deadline passed, in whatever phase
  aborted,          // ABORT_REQUEST from the web server
  stopped,          // in a worker: stopped by its host, output no longer read
  connection_lost,  // the connection went away: nothing more is written
  write_failed,     // the connection broke while writing
  overloaded,       // no slot or no worker: FCGI_OVERLOADED or when-overloaded's answer
  body_too_large,   // FCGI_STDIN over max-body-bytes: 413
};

inline constexpr std::array all_request_outcomes = {
    request_outcome::done,           request_outcome::answered,     request_outcome::not_found,
    request_outcome::forbidden,      request_outcome::failed,       request_outcome::crashed,
    request_outcome::bad_response,   request_outcome::timeout,      request_outcome::aborted,
    request_outcome::stopped,        request_outcome::connection_lost, request_outcome::write_failed,
    request_outcome::overloaded,     request_outcome::body_too_large,
};

constexpr std::string_view to_string(request_outcome outcome) {
  switch (outcome) {
    case request_outcome::done: return "done";
    case request_outcome::answered: return "answered";
    case request_outcome::not_found: return "not_found";
    case request_outcome::forbidden: return "forbidden";
    case request_outcome::failed: return "failed";
    case request_outcome::crashed: return "crashed";
    case request_outcome::bad_response: return "bad_response";
    case request_outcome::timeout: return "timeout";
    case request_outcome::aborted: return "aborted";
    case request_outcome::stopped: return "stopped";
    case request_outcome::connection_lost: return "connection_lost";
    case request_outcome::write_failed: return "write_failed";
    case request_outcome::overloaded: return "overloaded";
    case request_outcome::body_too_large: return "body_too_large";
  }
  return "unknown";
}

// The response's HTTP status class, for the metrics: "1xx" … "5xx", or "none"
// (no response: the connection went, or FCGI_OVERLOADED).
inline constexpr std::array<std::string_view, 6> status_classes = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
constexpr std::size_t status_class_of(int status) { return status >= 100 && status < 600 ? status / 100 : 0; }

}  // namespace fcgihost::host
