#include "handler_call.hpp"

#include <atomic>
#include <chrono>

#include <runners/function/handler_request.hpp>
#include <runners/function/handler_speed.hpp>
#include <runners/function/handler_stack_dump.hpp>

namespace fcgihost::runners {

run_result call_handler(const bound_handler& handler, const std::shared_ptr<request_io>& io, std::stop_token stop,
                        const late_return_callback& on_late_return) {
  run_result result;
  // Noted when the request ends early, to tell how long a handler ignored it.
  // Atomic: the callback runs on whichever thread asks for the stop.
  std::atomic<std::chrono::steady_clock::rep> stopped_at{0};
  std::stop_callback note_stop(stop, [&stopped_at] {
    stopped_at = std::chrono::steady_clock::now().time_since_epoch().count();
  });
  handler_request request(io, stop);
  const auto began = std::chrono::steady_clock::now();
  try {
    const running_handler_scope for_stack_dumps;  // see handler_stack_dump
    result.app_status = handler.function(&handler_request::api(), request.handle());
    if (!request.failure().empty()) {
      result.failure = request.failure();
      result.app_status = 0;  // ignored after fail() (see plugin.h): the failure is a 500
    } else {
      // Not flushed from here: the host sends it with END_REQUEST.
      result.last_stderr = request.take_unsent(output_stream::err);
      result.last_stdout = request.take_unsent(output_stream::out);
    }
  } catch (const std::exception& e) {
    result.failure = e.what();
  } catch (...) {
    result.failure = "the handler threw something that is not a std::exception";
  }
  if (handler.speed) handler.speed->ran(std::chrono::steady_clock::now() - began, request.waited(), request.read_input());
  // The exception object (made by the plugin) is gone here; the library
  // stays loaded while the caller holds `handler`.
  if (const auto at = stopped_at.load(); at != 0 && on_late_return) {
    const std::chrono::steady_clock::time_point stopped{std::chrono::steady_clock::duration(at)};
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();
    if (seconds >= 1.0) on_late_return(handler.plugin_file, seconds);
  }
  return result;
}

}  // namespace fcgihost::runners
