// Loading a plugin off the I/O threads: dlopen, the plugin's static
// initialisers or a copy of its file run on a loader thread of their own,
// and the request that asked waits on its own executor. Shared by both
// runners: in process and in worker processes.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>

#include <runners/function/handler_lookup.hpp>

namespace boost::asio {
class thread_pool;
}

namespace fcgihost::runners {

// `lookup.load_and_find(plugin, handler)` on `loader`. Not cancellable: in
// Boost 1.81, cancelling a co_spawn onto another executor dispatches the
// cancellation there holding a raw pointer, which dangles once the load has
// completed first (a crash seen when a request ended, 413 or timeout, while
// its plugin was loading). A cancelled request stops waiting for the load in
// request_session's race instead, and a load cannot be interrupted anyway.
boost::asio::awaitable<lookup_result> load_on(boost::asio::thread_pool& loader, handler_lookup& lookup,
                                              std::string plugin, std::string handler);

}  // namespace fcgihost::runners
