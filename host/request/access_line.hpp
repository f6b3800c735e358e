// One request's access line, as text or as a JSON object: one line whatever
// the request carried (its method, URI and script name come from outside and
// are escaped: log_text.hpp, json_text.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fcgihost::host {

struct access_record {
  std::string_view time;    // UTC, for JSON (the text log's own prefix has it)
  std::string_view peer;
  std::uint16_t request_id = 0;
  const std::string* method = nullptr;  // absent: "-" in text, null in JSON
  const std::string* uri = nullptr;
  int status = 0;
  std::uint64_t bytes = 0;
  double elapsed_ms = 0;
  std::string_view script;
  std::string_view runner;
  int worker_pid = 0;  // 0: none
  int app_status = 0;
  std::string_view outcome;  // see request_outcome.hpp
};

// `PEER "METHOD URI" STATUS BYTES ELAPSEDms script=... runner=... [worker=PID] app_status=N OUTCOME`
std::string access_line_text(const access_record& record);
// {"time":...,"peer":...,...,"outcome":...}: the text line's fields, named.
std::string access_line_json(const access_record& record);

}  // namespace fcgihost::host
