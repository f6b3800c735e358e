// Runs a coroutine on a fresh io_context to completion, bounded in time, so a
// test that would hang fails instead.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <stdexcept>

namespace fcgihost::test {

template <typename Function>
auto run_async(Function&& make_awaitable, std::chrono::seconds limit = std::chrono::seconds(60)) {
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, std::forward<Function>(make_awaitable)(), boost::asio::use_future);
  // Stops as soon as the coroutine is done, even if it left work behind.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
    if (io.run_one_until(deadline) == 0) break;
  if (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
    throw std::runtime_error("the test's coroutine did not finish in time");
  return result.get();
}

}  // namespace fcgihost::test
