// The client library and fcgi-client against the FastCGI dev kit's C library.
#include <client/connection.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <memory>

#include "../support/child_process.hpp"
#include "../support/crc32.hpp"
#include "../support/run_async.hpp"

namespace fcgihost::test {
namespace {

using boost::asio::awaitable;
using client::connection;

class Libfcgi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir = std::make_unique<temp_dir>();
    socket = (*dir / "libfcgi.sock").string();
    server = std::make_unique<child_process>(std::vector<std::string>{FCGIHOST_LIBFCGI_ECHO, socket},
                                             *dir / "stdout", *dir / "stderr");
    ASSERT_TRUE(wait_for_unix_socket(socket, *server)) << read_file(*dir / "stderr");
  }
  static void TearDownTestSuite() {
    server.reset();
    dir.reset();
  }

  static client::request_options request(std::string method, std::string app_status = "0") {
    client::request_options options;
    options.params = {{"REQUEST_METHOD", std::move(method)},
                      {"QUERY_STRING", "x=1"},
                      {"SCRIPT_FILENAME", "/app"},
                      {"HTTP_X_CUSTOM", "custom value"},
                      {"APP_STATUS", std::move(app_status)}};
    return options;
  }

  static inline std::unique_ptr<temp_dir> dir;
  static inline std::unique_ptr<child_process> server;
  static inline std::string socket;
};

TEST_F(Libfcgi, ParamsStdinStderrAndAppStatus) {
  const auto response = run_async([]() -> awaitable<client::response> {
    auto conn = co_await connection::connect("unix:" + socket);
    auto options = request("PUT", "7");
    co_return co_await conn.send(std::move(options), "the body");
  });
  EXPECT_EQ(response.out,
            "Content-Type: text/plain\r\n\r\nmethod=PUT\nquery=x=1\nscript=/app\ncustom=custom value\nbody=the body");
  EXPECT_EQ(response.err, "libfcgi stderr for PUT");
  EXPECT_EQ(response.app_status, 7u);
  EXPECT_EQ(response.protocol_status, 0);
}

TEST_F(Libfcgi, FourMebibyteBodyComesBackByteForByte) {
  const std::string body = patterned_bytes(4 * 1024 * 1024 + 5);
  const auto response = run_async([&]() -> awaitable<client::response> {
    auto conn = co_await connection::connect("unix:" + socket);
    auto options = request("POST");
    co_return co_await conn.send(std::move(options), body);
  });
  const std::string prefix = "Content-Type: text/plain\r\n\r\nmethod=POST\nquery=x=1\nscript=/app\ncustom=custom value\nbody=";
  ASSERT_EQ(response.out.size(), prefix.size() + body.size());
  EXPECT_EQ(response.out.substr(0, prefix.size()), prefix);
  EXPECT_EQ(crc32_hex(std::string_view(response.out).substr(prefix.size())), crc32_hex(body));
}

TEST_F(Libfcgi, StreamingExchangeDeliversOutputInOrder) {
  const auto events = run_async([]() -> awaitable<std::vector<client::output_event>> {
    auto conn = co_await connection::connect("unix:" + socket);
    auto options = request("POST", "3");
    auto exchange = co_await conn.begin(std::move(options));
    co_await exchange.write_stdin("part one,");
    co_await exchange.write_stdin(" part two");
    co_await exchange.end_stdin();
    std::vector<client::output_event> seen;
    do seen.push_back(co_await exchange.next());
    while (seen.back().type != client::output_event::kind::end);
    co_return seen;
  });
  std::string out;
  std::string err;
  for (const auto& event : events) (event.type == client::output_event::kind::err ? err : out) += event.bytes;
  EXPECT_TRUE(out.ends_with("body=part one, part two")) << out;
  EXPECT_EQ(err, "libfcgi stderr for POST");
  EXPECT_EQ(events.back().app_status, 3u);
}

TEST_F(Libfcgi, GetValuesAndNegotiationKeepOneRequestAtATime) {
  // Three names make a 48-byte record: aligned, the case libfcgi ignores
  // unless padding follows.
  const auto result = run_async([]() -> awaitable<std::pair<protocol::name_value_list, std::size_t>> {
    auto conn = co_await connection::connect("unix:" + socket);
    std::vector<std::string> names{"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    auto values = co_await conn.get_values(std::move(names));
    co_await conn.negotiate();
    co_return std::pair{values, conn.max_in_flight()};
  });
  EXPECT_EQ(result.first, (protocol::name_value_list{{"FCGI_MAX_CONNS", "1"}, {"FCGI_MAX_REQS", "1"},
                                                     {"FCGI_MPXS_CONNS", "0"}}));
  EXPECT_EQ(result.second, 1u);
}

TEST_F(Libfcgi, ConcurrentSendsOnOneConnectionAreQueuedForANonMultiplexingServer) {
  // Five coroutines share one connection; the client must hold four back
  // while the first is open, or libfcgi would see interleaved requests.
  const auto statuses = run_async([]() -> awaitable<std::vector<std::uint32_t>> {
    auto conn = co_await connection::connect("unix:" + socket);
    std::vector<std::uint32_t> seen(5, 999);
    int done = 0;
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer all_done(executor, std::chrono::steady_clock::time_point::max());
    for (int i = 0; i < 5; ++i) {
      boost::asio::co_spawn(
          executor,
          [&, i]() -> awaitable<void> {
            auto options = request("GET", std::to_string(10 + i));
            auto response = co_await conn.send(std::move(options), "body " + std::to_string(i));
            EXPECT_TRUE(response.out.ends_with("body=body " + std::to_string(i))) << response.out;
            seen[i] = response.app_status;
          },
          [&](std::exception_ptr failure) {
            if (failure) ADD_FAILURE() << "a concurrent send failed";
            if (++done == 5) all_done.cancel();
          });
    }
    co_await all_done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return seen;
  });
  EXPECT_EQ(statuses, (std::vector<std::uint32_t>{10, 11, 12, 13, 14}));
}

TEST_F(Libfcgi, WithoutKeepConnTheServerClosesAndTheClientRefusesMore) {
  const auto outcome = run_async([]() -> awaitable<std::string> {
    auto conn = co_await connection::connect("unix:" + socket);
    auto options = request("GET", "0");
    options.keep_conn = false;
    auto response = co_await conn.send(std::move(options));
    EXPECT_EQ(response.app_status, 0u);
    try {
      auto second = request("GET");
      co_await conn.begin(std::move(second));
    } catch (const std::exception& e) {
      co_return e.what();
    }
    co_return "no error";
  });
  EXPECT_NE(outcome, "no error");
}

TEST_F(Libfcgi, CommandLineClientExitCodeIsTheAppStatus) {
  const auto result = run_program({FCGIHOST_CLIENT_BIN, "--connect", "unix:" + socket, "--param", "APP_STATUS=42",
                                   "--param", "REQUEST_METHOD=GET"});
  EXPECT_EQ(result.exit_code, 42) << result.err;
  EXPECT_TRUE(result.out.starts_with("Content-Type: text/plain\r\n\r\nmethod=GET\n")) << result.out;
  EXPECT_EQ(result.err, "libfcgi stderr for GET");
}

TEST_F(Libfcgi, CommandLineClientCapsLargeAppStatusAt254) {
  const auto result = run_program({FCGIHOST_CLIENT_BIN, "--connect", "unix:" + socket, "--param", "APP_STATUS=408"});
  EXPECT_EQ(result.exit_code, 254) << result.err;
}

TEST(CommandLineClient, ConnectionFailureExits255WithAMessage) {
  temp_dir dir;
  const auto result =
      run_program({FCGIHOST_CLIENT_BIN, "--connect", "unix:" + (dir / "nobody-listens.sock").string(), "GET", "/"});
  EXPECT_EQ(result.exit_code, 255);
  EXPECT_NE(result.err.find("fcgi-client: cannot connect to unix:"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("No such file or directory"), std::string::npos) << result.err;
}

TEST(CommandLineClient, BadArgumentsExit255WithUsageHint) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"--connect"}, {"--connect", "http://x"}, {"--connect", "unix:/x", "GET"},
           {"--connect", "unix:/x", "--param", "NOEQUALS"}, {"--connect", "unix:/x", "--bogus"},
           {"--connect", "unix:/x", "GET", "no-slash"}}) {
    std::vector<std::string> argv{FCGIHOST_CLIENT_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto result = run_program(argv);
    EXPECT_EQ(result.exit_code, 255) << testing::PrintToString(args);
    EXPECT_NE(result.err.find("fcgi-client: "), std::string::npos) << testing::PrintToString(args);
  }
}

}  // namespace
}  // namespace fcgihost::test
