// Why a connection from a web server closed: one reason, decided once by the
// connection's state machine (host/transport/connection_fsm), counted per
// reason on the status page and in the metrics.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace fcgihost::host {

enum class close_reason {
  peer_closed,       // EOF or reset from the web server
  read_timeout,      // stopped in the middle of a record or of a request's PARAMS (--read-timeout)
  idle_timeout,      // nothing in flight for --idle-timeout
  replies_not_read,  // our own replies, or a response's end, not read in time
  write_failed,      // a write to the socket failed
  response_cut,      // a response could not end cleanly and must show as cut
  protocol_error,    // input that is not FastCGI
  evicted,           // idle, closed to admit a new connection (--max-connections)
  host_stopping,     // the host shuts down
  linger_over,       // the lingering close after the last response is over
  host_failure,      // an exception inside the host
};

inline constexpr std::array all_close_reasons = {
    close_reason::peer_closed,   close_reason::read_timeout,   close_reason::idle_timeout,
    close_reason::replies_not_read, close_reason::write_failed, close_reason::response_cut,
    close_reason::protocol_error, close_reason::evicted,       close_reason::host_stopping,
    close_reason::linger_over,   close_reason::host_failure,
};

constexpr std::string_view to_string(close_reason reason) {
  switch (reason) {
    case close_reason::peer_closed: return "peer_closed";
    case close_reason::read_timeout: return "read_timeout";
    case close_reason::idle_timeout: return "idle_timeout";
    case close_reason::replies_not_read: return "replies_not_read";
    case close_reason::write_failed: return "write_failed";
    case close_reason::response_cut: return "response_cut";
    case close_reason::protocol_error: return "protocol_error";
    case close_reason::evicted: return "evicted";
    case close_reason::host_stopping: return "host_stopping";
    case close_reason::linger_over: return "linger_over";
    case close_reason::host_failure: return "host_failure";
  }
  return "unknown";
}

}  // namespace fcgihost::host
