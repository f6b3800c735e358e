// How a request's response ends on the wire (see compose_final_records in
// request_lifecycle.hpp): pure functions of its ending and its output so far.
#include "request_lifecycle.hpp"

#include <fcgihost/protocol/encoder.hpp>

namespace fcgihost::host {

namespace {

bool leaves_response_unfinished(request_outcome outcome) {
  switch (outcome) {
    case request_outcome::timeout:
    case request_outcome::failed:
    case request_outcome::crashed:
    case request_outcome::write_failed:
    case request_outcome::bad_response:
    case request_outcome::body_too_large: return true;
    default: return false;
  }
}

}  // namespace

final_records final_disposition(const request_ending& ending, output_state output, bool alone_on_connection) {
  final_records result;
  if (ending.outcome == request_outcome::connection_lost || ending.outcome == request_outcome::write_failed) {
    result.write = false;
    result.close_connection = ending.outcome == request_outcome::write_failed;
  } else if (output.stdout_started && leaves_response_unfinished(ending.outcome) && alone_on_connection) {
    result.close_connection = true;
  }
  return result;
}

final_records compose_final_records(std::uint16_t request_id, const request_ending& ending, output_state output,
                                    bool alone_on_connection) {
  final_records result = final_disposition(ending, output, alone_on_connection);
  if (!result.write) return result;
  if (result.close_connection) {
    // A record header of FastCGI version 0 and type 0 before the close:
    // nginx with fastcgi_keep_conn off takes a bare close as the response's
    // end, and a record of another version as an upstream error. Type 0 is
    // no record type at all: HAProxy, which does not look at the version,
    // skips it and takes the close as the error it is (an empty STDOUT
    // there would have ended the response as whole).
    result.bytes.assign({'\0', '\0', static_cast<char>(request_id >> 8), static_cast<char>(request_id & 0xFF), '\0',
                         '\0', '\0', '\0'});
    return result;
  }
  std::string& records = result.bytes;
  if (ending.protocol_status != protocol::protocol_status::request_complete) {
    protocol::append_end_request(records, request_id, 0, ending.protocol_status);
    return result;
  }
  bool stderr_used = output.stderr_started;
  if (!output.stdout_started && !ending.response_if_silent.empty()) {
    protocol::append_stream(records, protocol::record_type::std_out, request_id, ending.response_if_silent);
  } else if (!ending.last_stdout.empty()) {
    protocol::append_stream(records, protocol::record_type::std_out, request_id, ending.last_stdout);
  }
  for (const std::string* text : {&ending.runner_stderr, &ending.host_stderr}) {
    if (text->empty()) continue;
    protocol::append_stream(records, protocol::record_type::std_err, request_id, *text);
    stderr_used = true;
  }
  protocol::append_stream_end(records, protocol::record_type::std_out, request_id);
  if (stderr_used) protocol::append_stream_end(records, protocol::record_type::std_err, request_id);
  protocol::append_end_request(records, request_id, static_cast<std::uint32_t>(ending.app_status),
                               protocol::protocol_status::request_complete);
  return result;
}

}  // namespace fcgihost::host
