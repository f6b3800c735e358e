// One call of a plugin's handler, on the calling thread: the request object
// it is given, its app status or failure, the output it left unsent, and
// what its speed is told. Shared by function_runner (on the handler pool or
// the fast path) and, in a worker, by the quick lane (host/worker/quick_lane.hpp).
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <runners/common/request_io.hpp>
#include <runners/common/run_result.hpp>
#include <runners/function/handler_lookup.hpp>

namespace fcgihost::runners {

// `on_late_return(what, seconds)` is told when a handler returns after its
// request was over (it ignored the stop token for that long).
using late_return_callback = std::function<void(const std::string& what, double seconds)>;

// Calls the handler now. Never throws: what it throws is its failure.
run_result call_handler(const bound_handler& handler, const std::shared_ptr<request_io>& io, std::stop_token stop,
                        const late_return_callback& on_late_return);

}  // namespace fcgihost::runners
