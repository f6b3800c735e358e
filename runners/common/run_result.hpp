// What a runner produces, without the I/O it does it with: which stream a
// write goes to, and how a run ended.
#pragma once

#include <string>

namespace fcgihost::runners {

enum class output_stream { out, err };

// What a worker says of its handler's end, besides its app status (the words
// it sends are checked against these; anything else is `none`).
enum class handler_verdict : unsigned char { none, failed, bad_response };

// How a run ended, when it ended on its own.
struct run_result {
  int app_status = 0;
  std::string failure;  // non-empty: the handler or program failed (answered 500)
  bool crashed = false; // with failure: the process running it died (answered 502)
  // Output the runner had not sent yet when it ended: the host sends it with
  // END_REQUEST in one write (for a small response, the whole of it).
  std::string last_stdout;
  std::string last_stderr;
  // A script closed its stdout and runs on: its response is whole, and the
  // process ends later (at its exit, or killed at the request's deadline).
  bool runs_on = false;
  // In a worker's end: what the worker said of its handler.
  handler_verdict verdict = handler_verdict::none;
};

}  // namespace fcgihost::runners
