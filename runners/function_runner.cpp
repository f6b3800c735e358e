#include "function_runner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>

#include "handler_request.hpp"

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

boost::asio::awaitable<run_result> function_runner::run(bound_handler handler, std::shared_ptr<request_io> io,
                                                        std::stop_token stop) {
  auto executor = io->executor();
  auto done = std::make_shared<asio::experimental::channel<void(error_code, run_result)>>(executor, 1);
  threads_.submit([handler = std::move(handler), io, stop, done, executor, late = on_late_return_]() mutable {
    run_result result;
    if (!stop.stop_requested()) {  // it may have waited in the queue past its timeout
      // Noted when the request ends early, to tell how long a handler ignored it.
      // Atomic: the callback runs on whichever thread asks for the stop.
      std::atomic<std::chrono::steady_clock::rep> stopped_at{0};
      std::stop_callback note_stop(stop, [&stopped_at] {
        stopped_at = std::chrono::steady_clock::now().time_since_epoch().count();
      });
      handler_request request(io, stop);
      try {
        result.app_status = handler.function(request);
        // Not flushed from here: the host sends it with END_REQUEST.
        result.last_stderr = request.take_unsent(output_stream::err);
        result.last_stdout = request.take_unsent(output_stream::out);
      } catch (const std::exception& e) {
        result.failure = e.what();
      } catch (...) {
        result.failure = "the handler threw something that is not a std::exception";
      }
      // The exception object (made by the plugin) is gone here; the library
      // stays loaded until `handler` is destroyed with this task.
      if (const auto at = stopped_at.load(); at != 0 && late) {
        const std::chrono::steady_clock::time_point stopped{std::chrono::steady_clock::duration(at)};
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
        if (seconds >= 1.0) late(handler.plugin_file, seconds);
      }
    }
    // Deferred: run on this thread (the handler's work is done) without waking another.
    asio::defer(executor, [done, result = std::move(result)]() mutable {
      done->try_send(error_code{}, std::move(result));
    });
  });
  auto [ec, result] = co_await done->async_receive(asio::as_tuple(asio::use_awaitable));
  if (ec) throw boost::system::system_error(ec);
  co_return result;
}

}  // namespace fcgihost::runners
