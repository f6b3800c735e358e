// One request run in a leased worker process: the host is the worker's
// FastCGI client. Params go out with the handler's name, FCGI_STDIN is
// pumped in as the web server sends it, FCGI_STDOUT/STDERR come back through
// request_io with its backpressure (the worker's socket is not read while
// the web server is slow), and END_REQUEST ends the run.
//
// When the request is stopped (timeout, abort, web server gone), the worker
// gets ABORT_REQUEST, so its handler's stop token fires; if the handler has
// not returned within the kill grace, the worker is SIGKILLed. When the
// worker dies mid-request, the run fails as a crash (502) with the signal
// and a symbolised backtrace of the crashing thread.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <spdlog/logger.h>

#include <memory>
#include <stop_token>
#include <string>

#include "request_io.hpp"
#include "run_result.hpp"
#include "worker_pool.hpp"

namespace fcgihost::runners {

// Completes with the run's result, or is cancelled with its request (the
// exchange then goes on alone until the worker is free or killed).
boost::asio::awaitable<run_result> run_in_worker(worker_lease lease, std::string handler,
                                                 std::shared_ptr<request_io> io, std::stop_token stop,
                                                 std::chrono::milliseconds kill_grace,
                                                 std::shared_ptr<spdlog::logger> log);

}  // namespace fcgihost::runners
