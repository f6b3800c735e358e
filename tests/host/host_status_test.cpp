// What the host says about itself: the ping path a load balancer checks,
// access lines as JSON for log shippers, and its state to systemd.
#include <boost/json/src.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "../support/host_process.hpp"
#include "../support/run_async.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using client::connection;

// A request as nginx sends one for `uri`: SCRIPT_NAME is the path, and
// SCRIPT_FILENAME names no plugin or script.
client::request_options request_for_path(const std::string& uri) {
  client::request_options options;
  options.params = {{"SCRIPT_NAME", uri},
                    {"SCRIPT_FILENAME", "/var/www" + uri},
                    {"REQUEST_METHOD", "GET"},
                    {"REQUEST_URI", uri},
                    {"QUERY_STRING", ""}};
  return options;
}

host_options ping_options(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--ping-path", "/ping"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return with_arguments(std::move(arguments));
}

// slow.stream?LINES begun on `conn`, once its first output shows it runs.
awaitable<client::exchange> begin_running(connection& conn, std::string lines) {
  client::request_options options;
  options.params = request_params("slow.stream", std::move(lines));
  auto request = co_await conn.begin(std::move(options));
  co_await request.end_stdin();
  auto first = co_await request.next();
  EXPECT_FALSE(first.bytes.empty());
  co_return request;
}

TEST(HostStatus, PingIsAnsweredByTheHostItself) {
  host_process host(ping_options());
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    const auto pong = co_await conn.send(request_for_path("/ping"));
    EXPECT_EQ(pong.out, "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\npong\n");
    EXPECT_EQ(pong.app_status, 0u);
    // Only the path itself: anything else goes where it always went.
    const auto other = co_await conn.send(request_for_path("/ping2"));
    EXPECT_TRUE(other.out.starts_with("Status: 404")) << other.out;
  });
  EXPECT_TRUE(host.wait_for_log("\"GET /ping\" 200 64 ")) << host.log();
  EXPECT_TRUE(host.wait_for_log("script=/ping runner=host app_status=0 done")) << host.log();
}

TEST(HostStatus, WithoutAPingPathNothingIsAnsweredByTheHost) {
  host_process host;
  const auto response = run_async([&]() -> awaitable<client::response> {
    auto conn = co_await connection::connect(host.address());
    co_return co_await conn.send(request_for_path("/ping"));
  });
  EXPECT_TRUE(response.out.starts_with("Status: 404")) << response.out;
}

TEST(HostStatus, PingIsAnsweredWhenEveryRequestSlotIsTaken) {
  host_process host(ping_options({"--max-requests", "1"}));
  run_async([&]() -> awaitable<void> {
    auto busy = co_await connection::connect(host.address());
    auto running = co_await begin_running(busy, "600");
    auto conn = co_await connection::connect(host.address());
    const auto refused = co_await fetch(host.address(), "hello.greet");
    EXPECT_EQ(refused.protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::overloaded));
    const auto pong = co_await conn.send(request_for_path("/ping"));
    EXPECT_TRUE(pong.out.ends_with("\r\n\r\npong\n")) << pong.out;
  });
}

// A drain closes idle connections and accepts no new ones: a check reaches
// the host on a connection that still has a request in flight (as a
// multiplexing balancer's does).
TEST(HostStatus, PingAnswers503WhileDraining) {
  host_process host(ping_options());
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    conn.set_max_in_flight(2);
    auto running = co_await begin_running(conn, "10");  // a second of lines: the drain waits for it
    EXPECT_TRUE((co_await conn.send(request_for_path("/ping"))).out.ends_with("pong\n"));
    host.process().signal(SIGTERM);
    EXPECT_TRUE(host.wait_for_log("SIGTERM: no new connections"));
    const auto draining = co_await conn.send(request_for_path("/ping"));
    EXPECT_EQ(draining.out, "Status: 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                            "draining\n");
    EXPECT_EQ(draining.app_status, 503u);
    // Anything else is refused, as without a ping path.
    client::request_options hello;
    hello.params = request_params("hello.greet");
    const auto refused = co_await conn.send(std::move(hello));
    EXPECT_EQ(refused.protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::overloaded));
    std::uint32_t status = 999;
    co_await read_to_end(running, status);
    EXPECT_EQ(status, 0u);
  });
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(host.wait_for_log("script=/ping runner=host app_status=503 draining")) << host.log();
}


// Every access line a JSON object on a line of its own, whatever the client
// sent (quotes, a line break, bytes that are not UTF-8), with the text line's
// fields and the worker's pid and the end reason.
TEST(HostStatus, JsonAccessLinesParseAsJson) {
  host_process host(with_arguments({"--access-log-format", "json", "--timeout", "0.3"}));
  run_async([&]() -> awaitable<void> {
    co_await fetch(host.address(), "hello.greet", "json");
    co_await fetch(host.address(), "slow.polite", "5");  // 408 at 0.3 s
    auto conn = co_await connection::connect(host.address());
    client::request_options odd;
    odd.params = request_params("hello.greet");
    odd.params.push_back({"REQUEST_URI", "/a\"b\\c\nd\xff\xfe"});
    odd.params.erase(odd.params.begin() + 3);  // the REQUEST_URI request_params set
    co_await conn.send(std::move(odd));
  });
  ASSERT_TRUE(host.wait_for_log_count("\"end_reason\":", 3)) << host.log();
  std::istringstream lines(host.log());
  std::vector<boost::json::object> access;
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("{")) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    ASSERT_TRUE(value.is_object()) << line;
    access.push_back(value.as_object());
  }
  ASSERT_EQ(access.size(), 3u) << host.log();
  const auto& hello = access[0];
  EXPECT_EQ(hello.at("script").as_string(), "hello.greet");
  EXPECT_EQ(hello.at("status").as_int64(), 200);
  EXPECT_EQ(hello.at("runner").as_string(), "function");
  EXPECT_TRUE(hello.at("worker_pid").is_int64()) << "plugins run in workers by default";
  EXPECT_EQ(hello.at("end_reason").as_string(), "done");
  EXPECT_EQ(hello.at("method").as_string(), "GET");
  EXPECT_EQ(hello.at("uri").as_string(), "/test");
  EXPECT_GT(hello.at("bytes").as_int64(), 0);
  EXPECT_TRUE(hello.at("time").as_string().ends_with("Z"));
  const auto& late = access[1];
  EXPECT_EQ(late.at("status").as_int64(), 408);
  EXPECT_EQ(late.at("end_reason").as_string(), "timeout");
  EXPECT_GE(late.at("elapsed_ms").as_double(), 290.0);
  EXPECT_EQ(access[2].at("uri").as_string(), "/a\"b\\c\nd\xc3\xbf\xc3\xbe");
  // Nothing else changed: the log's other lines keep their text form.
  EXPECT_NE(host.log().find(" info fcgi-host listening on "), std::string::npos);
}


// What systemd would hear: a datagram socket of the test's own, named by
// NOTIFY_SOCKET as systemd names its own.
class notify_listener {
 public:
  notify_listener() : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path().c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  }
  ~notify_listener() { ::close(fd_); }
  std::string path() const { return (dir_ / "notify").string(); }
  // The next message other than a watchdog ping (which are counted), or ""
  // when none comes within `limit`.
  std::string next(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
      pollfd ready{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) <= 0) return {};
      char message[4096];
      const auto got = ::recv(fd_, message, sizeof message, 0);
      if (got <= 0) return {};
      std::string text(message, static_cast<std::size_t>(got));
      if (text == "WATCHDOG=1") {
        ++watchdog_pings;
        continue;
      }
      return text;
    }
  }
  int watchdog_pings = 0;

 private:
  temp_dir dir_;
  int fd_;
};

TEST(HostStatus, SystemdHearsReadyReloadingStoppingAndWatchdogPings) {
  notify_listener systemd;
  host_options options = ping_options();
  options.environment = {"NOTIFY_SOCKET=" + systemd.path(), "WATCHDOG_USEC=200000"};
  host_process host(options);
  const auto ready = systemd.next();
  const auto ready_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(ready.starts_with("READY=1\nSTATUS=serving on unix:")) << ready;
  // Ready means serving: a request made now is answered.
  const auto pong = run_async([&]() -> awaitable<client::response> {
    auto conn = co_await connection::connect(host.address());
    co_return co_await conn.send(request_for_path("/ping"));
  });
  EXPECT_TRUE(pong.out.ends_with("pong\n"));
  // Pinged every 0.1 s (half of WATCHDOG_USEC) from the event loop.
  EXPECT_EQ(systemd.next(std::chrono::milliseconds(550)), "");
  const auto since_ready = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ready_at);
  EXPECT_GE(systemd.watchdog_pings, 3);
  EXPECT_LE(systemd.watchdog_pings, static_cast<int>(since_ready.count() / 100) + 2);
  host.process().signal(SIGHUP);
  const auto reloading = systemd.next();
  EXPECT_TRUE(reloading.starts_with("RELOADING=1\n")) << reloading;
  EXPECT_NE(reloading.find("\nMONOTONIC_USEC="), std::string::npos) << reloading;
  EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=serving");
  host.process().signal(SIGTERM);
  EXPECT_EQ(systemd.next(), "STOPPING=1\nSTATUS=draining 0 request(s)");
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(host.wait_for_log("systemd watchdog: pinging every 0.1 s")) << host.log();
}

}  // namespace
}  // namespace fcgihost::test
