#include "idle_memory_trim.hpp"

#include <malloc.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;

namespace {
// Trimmed after this many idle seconds: at once, and again once the serving
// threads that grew for the load have left (after 10 s without need) and
// given their caches back.
constexpr int first_trim_after = 1;
constexpr int second_trim_after = 12;
}  // namespace

asio::awaitable<void> trim_memory_when_idle(host_context& host) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  std::uint64_t seen = host.requests_begun.load(std::memory_order_relaxed);
  int idle_seconds = second_trim_after;  // nothing to give back at start
  while (true) {
    tick.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    const std::uint64_t now = host.requests_begun.load(std::memory_order_relaxed);
    if (now != seen || host.active_requests.load() != 0) {
      idle_seconds = 0;  // busy
    } else if (idle_seconds < second_trim_after) {
      ++idle_seconds;
      if (idle_seconds == first_trim_after || idle_seconds == second_trim_after) ::malloc_trim(0);
    }
    seen = now;
  }
}

}  // namespace fcgihost::host
