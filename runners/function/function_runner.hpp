// Runs plugin handlers: finds them in the plugins folder, runs each on the
// handler pool, or on the I/O thread when it has earned the fast path (see
// handler_speed), and completes on the request's strand with its app status
// or the exception it threw. Cancelling the awaitable (timeout, abort)
// returns at once; the handler is told through its stop token and may run on.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <stop_token>
#include <string_view>

#include <runners/function/handler_call.hpp>
#include <runners/function/handler_lookup.hpp>
#include <runners/common/request_io.hpp>
#include <runners/function/handler_pool.hpp>
#include <runners/function/io_threads.hpp>

namespace boost::asio {
class thread_pool;
}

namespace fcgihost::runners {

class function_runner {
 public:
  using late_return_callback = runners::late_return_callback;  // see handler_call.hpp
  function_runner(handler_lookup& catalog, io_threads& io_threads, handler_pool& pool,
                  late_return_callback on_late_return = {});
  ~function_runner();

  // Quick (see handler_lookup::find_loaded): may say needs_loading.
  lookup_result find_loaded(std::string_view plugin, std::string_view handler) {
    return catalog_.find_loaded(plugin, handler);
  }
  // Loads a plugin on the loader thread (dlopen and the plugin's static
  // initialisers never run on an I/O thread), then looks the handler up.
  // Completes on the caller's executor.
  boost::asio::awaitable<lookup_result> load_and_find(std::string plugin, std::string handler);

  boost::asio::awaitable<run_result> run(bound_handler handler, std::shared_ptr<request_io> io,
                                         std::stop_token stop);
  // The I/O threads a handler on the fast path runs on (see io_threads::run_inline).
  io_threads& inline_threads() const { return io_threads_; }

 private:
  handler_lookup& catalog_;
  io_threads& io_threads_;
  handler_pool& pool_;
  late_return_callback on_late_return_;
  std::unique_ptr<boost::asio::thread_pool> loader_;  // one thread: loads one plugin at a time
};

}  // namespace fcgihost::runners
