#include "stream_echo.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <gtest/gtest.h>

#include <iostream>

#include "crc32.hpp"
#include "host_process.hpp"
#include "run_async.hpp"

namespace fcgihost::test {

namespace asio = boost::asio;
using asio::awaitable;

double stream_echo(const std::string& address, const std::string& script, std::uint64_t total) {
  const std::string block = patterned_bytes(1024 * 1024);
  std::uint32_t sent_crc = 0;
  std::uint32_t echoed_crc = 0;
  std::uint64_t echoed = 0;
  const auto start = std::chrono::steady_clock::now();
  run_async(
      [&]() -> awaitable<void> {
        using namespace asio::experimental::awaitable_operators;
        auto conn = co_await client::connection::connect(address);
        client::request_options options;
        options.params = request_params(script, {}, "POST");
        auto request = co_await conn.begin(std::move(options));
        auto writer = [&]() -> awaitable<void> {
          for (std::uint64_t sent = 0; sent < total; sent += block.size()) {
            sent_crc = crc32_update(sent_crc, block);
            co_await request.write_stdin(block);
          }
          co_await request.end_stdin();
        };
        auto reader = [&]() -> awaitable<void> {
          const std::string header = "Content-Type: application/octet-stream\r\n\r\n";
          std::string head;
          for (;;) {
            auto event = co_await request.next();
            if (event.type == client::output_event::kind::end) break;
            std::string_view bytes = event.bytes;
            if (head.size() < header.size()) {
              const auto take = std::min(bytes.size(), header.size() - head.size());
              head.append(bytes.substr(0, take));
              bytes.remove_prefix(take);
            }
            echoed += bytes.size();
            echoed_crc = crc32_update(echoed_crc, bytes);
          }
          EXPECT_EQ(head, header);
        };
        co_await (writer() && reader());
      },
      std::chrono::seconds(300));
  EXPECT_EQ(echoed, total);
  EXPECT_EQ(crc32_text(echoed_crc), crc32_text(sent_crc));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void expect_gibibyte_echo_in_bounded_memory(const host_process& host, const std::string& script,
                                            const std::string& label) {
  constexpr std::uint64_t gibibyte = 1024ull * 1024 * 1024;
  const double seconds = stream_echo(host.address(), script, gibibyte);
  const std::size_t peak_mib = host.peak_rss_kib() / 1024;
  std::cout << label << ": " << seconds << " s (" << 1024 / seconds << " MiB/s each way), host peak RSS "
            << peak_mib << " MiB\n";
  if (memory_is_measurable()) {
    EXPECT_LT(peak_mib, 64u);
  }
}

}  // namespace fcgihost::test
