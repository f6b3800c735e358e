// The client's multiplexing against a scripted server on a real unix socket:
// two requests in flight on one connection, answered interleaved and out of order.
#include <client/connection.hpp>
#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <set>

#include "../support/child_process.hpp"
#include "../support/run_async.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using local = asio::local::stream_protocol;
using namespace protocol;

// Answers GET_VALUES as a multiplexing server, waits until two requests have
// sent their whole STDIN, then answers them interleaved, the second first.
awaitable<std::set<std::uint16_t>> scripted_server(local::acceptor& acceptor) {
  auto socket = co_await acceptor.async_accept(use_awaitable);
  message_decoder decoder;
  std::set<std::uint16_t> begun;
  std::set<std::uint16_t> stdin_done;
  std::string buffer(4096, '\0');
  while (stdin_done.size() < 2) {
    const std::size_t n = co_await socket.async_read_some(asio::buffer(buffer), use_awaitable);
    std::string_view input(buffer.data(), n);
    while (!input.empty()) {
      decoded_message decoded;
      bool ready = false;
      std::error_code ec;
      input.remove_prefix(decoder.put(input, decoded, ready, ec));
      if (ec) throw std::system_error(ec);
      if (!ready) continue;
      if (std::holds_alternative<message::get_values>(decoded)) {
        std::string reply;
        append_get_values_result(reply, name_value_list{{"FCGI_MAX_REQS", "10"}, {"FCGI_MPXS_CONNS", "1"}});
        co_await asio::async_write(socket, asio::buffer(reply), use_awaitable);
      } else if (auto* begin = std::get_if<message::begin_request>(&decoded)) {
        begun.insert(begin->request_id);
      } else if (auto* data = std::get_if<message::stream_data>(&decoded)) {
        if (data->stream == record_type::std_in && data->bytes.empty()) stdin_done.insert(data->request_id);
      }
    }
  }
  const std::uint16_t first = *begun.begin();
  const std::uint16_t second = *begun.rbegin();
  std::string reply;
  append_stream(reply, record_type::std_out, second, "second-a ");
  append_stream(reply, record_type::std_out, first, "first-a ");
  append_stream(reply, record_type::std_err, second, "second-err");
  append_stream_end(reply, record_type::std_out, second);
  append_end_request(reply, second, 2, protocol_status::request_complete);
  append_stream(reply, record_type::std_out, first, "first-b");
  append_stream_end(reply, record_type::std_out, first);
  append_end_request(reply, first, 1, protocol_status::request_complete);
  co_await asio::async_write(socket, asio::buffer(reply), use_awaitable);
  co_return begun;
}

TEST(ClientMultiplexing, TwoRequestsInFlightAreAnsweredOutOfOrder) {
  temp_dir dir;
  const std::string path = (dir / "mpx.sock").string();
  struct outcome {
    std::set<std::uint16_t> ids;
    std::size_t max_in_flight = 0;
    client::response first, second;
  };
  const auto result = run_async([&]() -> awaitable<outcome> {
    using namespace asio::experimental::awaitable_operators;
    local::acceptor acceptor(co_await asio::this_coro::executor, local::endpoint(path));
    outcome seen;
    auto run_client = [&]() -> awaitable<void> {
      auto conn = co_await client::connection::connect("unix:" + path);
      co_await conn.negotiate();
      seen.max_in_flight = conn.max_in_flight();
      client::request_options one;
      one.params = {{"N", "1"}};
      client::request_options two;
      two.params = {{"N", "2"}};
      std::tie(seen.first, seen.second) = co_await (conn.send(std::move(one), "a") && conn.send(std::move(two), "b"));
    };
    auto ids = co_await (scripted_server(acceptor) && run_client());
    seen.ids = ids;
    co_return seen;
  });
  EXPECT_EQ(result.max_in_flight, 10u);
  ASSERT_EQ(result.ids.size(), 2u);
  EXPECT_EQ(result.first.out, "first-a first-b");
  EXPECT_EQ(result.first.app_status, 1u);
  EXPECT_EQ(result.second.out, "second-a ");
  EXPECT_EQ(result.second.err, "second-err");
  EXPECT_EQ(result.second.app_status, 2u);
}

}  // namespace
}  // namespace fcgihost::test
