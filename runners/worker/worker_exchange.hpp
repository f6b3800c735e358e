// One request run in a worker process: the host is the worker's FastCGI
// client, over the worker's link (worker_link). Params go out with the
// handler's name, FCGI_STDIN is pumped in as the web server sends it (or in
// one piece with the params when the whole body is here), FCGI_STDOUT/STDERR
// come back through request_io with its backpressure, and END_REQUEST ends
// the run.
//
// When the request is stopped (timeout, abort, web server gone), the worker
// gets ABORT_REQUEST, so its handler's stop token fires; if the handler has
// not returned within the kill grace, the link kills the worker. When the
// worker dies while running the request, the run fails as a crash (502) with
// the signal and a symbolised backtrace of the crashing thread; when it dies
// before the request began there, the request may be sent to another worker.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <spdlog/logger.h>

#include <memory>
#include <optional>
#include <stop_token>
#include <string>

#include <runners/common/request_io.hpp>
#include <runners/common/run_result.hpp>
#include <runners/worker/worker_pool.hpp>

namespace fcgihost::runners {

struct worker_job {
  std::string handler;
  std::chrono::milliseconds kill_grace{3000};
  // Expected to be at most worker_protocol::small_body_bytes: read whole first.
  bool small_body = false;
  // The whole body, once read from the request (when it was all here and
  // small): kept so that the request can be sent to another worker.
  std::optional<std::string> body;
};

struct worker_outcome {
  run_result result;
  // The worker died before it began this request: nothing of it ran, and
  // `job.body` (if set) lets it run elsewhere.
  bool not_started = false;
  worker_job job;
};

// Completes with the run's outcome once the worker has ended the request, or
// is gone. Not cancellable: a stopped request (`stop`) is ended by the worker
// or the worker is killed after the kill grace, so it completes in bounded
// time whatever the handler does; the caller waits for it in the same
// coroutine, without a hop. Throws when the run delivered nothing (it was
// stopped before it was sent, or the host's side failed).
boost::asio::awaitable<worker_outcome> run_in_worker(worker_lease lease, worker_job job,
                                                     std::shared_ptr<request_io> io, std::stop_token stop,
                                                     std::shared_ptr<spdlog::logger> log);

}  // namespace fcgihost::runners
