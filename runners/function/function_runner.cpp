#include "function_runner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>

#include <runners/function/handler_call.hpp>
#include <runners/function/plugin_loading.hpp>
#include <runners/function/handler_speed.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

function_runner::function_runner(handler_lookup& catalog, io_threads& io_threads, handler_pool& pool,
                                 late_return_callback on_late_return)
    : catalog_(catalog),
      io_threads_(io_threads),
      pool_(pool),
      on_late_return_(std::move(on_late_return)),
      loader_(std::make_unique<asio::thread_pool>(1)) {}

// A load stuck in a plugin's static initialiser is not waited for: the pool
// is stopped and left to the process's exit instead of joined.
function_runner::~function_runner() {
  loader_->stop();
  [[maybe_unused]] auto* left = loader_.release();
}

boost::asio::awaitable<lookup_result> function_runner::load_and_find(std::string plugin, std::string handler) {
  co_return co_await load_on(*loader_, catalog_, std::move(plugin), std::move(handler));
}

boost::asio::awaitable<run_result> function_runner::run(bound_handler handler, std::shared_ptr<request_io> io,
                                                        std::stop_token stop) {
  auto executor = io->executor();
  auto done = std::make_shared<asio::experimental::channel<void(error_code, run_result)>>(executor, 1);
  // The fast path (see handler_speed). A handler that reads its body takes it
  // only once the whole body is here, so that it never waits there for the
  // socket its own thread serves. A web server sends the empty FCGI_STDIN of
  // a GET right after PARAMS, mostly in the same read: the connection
  // decodes it once this turn of its strand ends.
  const bool quick = handler.speed && handler.speed->runs_inline();
  const bool needs_body = quick && handler.speed->reads_input();
  if (needs_body && !io->stdin_complete()) co_await asio::defer(executor, asio::use_awaitable);
  const bool on_io_thread = quick && (!needs_body || io->stdin_complete());
  auto* speed = handler.speed;
  // The request is held weakly until its handler starts: one that ended while
  // its handler waited for a thread (every one busy) is freed at its end, not
  // when a thread comes free.
  std::function<void()> task = [handler = std::move(handler), weak_io = std::weak_ptr<request_io>(io), stop, done,
                                executor, late = on_late_return_, on_io_thread] {
    run_result result;
    // It may have waited in the queue past its timeout.
    if (auto live_io = weak_io.lock(); live_io && !stop.stop_requested())
      result = call_handler(handler, live_io, stop, late);
    auto deliver = [done, result = std::move(result)]() mutable { done->try_send(error_code{}, std::move(result)); };
    // From an I/O thread, deferred: it runs next on this thread, waking no other.
    if (on_io_thread)
      asio::defer(executor, std::move(deliver));
    else
      asio::post(executor, std::move(deliver));
  };
  if (on_io_thread) {
    asio::defer(io_threads_.context(),
                [task = std::move(task), speed, &threads = io_threads_] { threads.run_inline(task, *speed); });
  } else {
    pool_.submit(std::move(task));
  }
  auto [ec, result] = co_await done->async_receive(asio::as_tuple(asio::use_awaitable));
  if (ec) throw boost::system::system_error(ec);
  co_return result;
}

}  // namespace fcgihost::runners
