// What the host says about itself: the ping path a load balancer checks,
// access lines as JSON for log shippers, and its state to systemd.
#include <boost/json/src.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcgihost/protocol/encoder.hpp>

#include "../support/host_process.hpp"
#include "../support/raw_peer.hpp"
#include "../support/run_async.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using client::connection;

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
  ASSERT_EQ(wait_for_access(host, {.script = "/ping", .runner = "host", .outcome = "done", .status = 200, .app_status = 0}),
            1u)
      << host.log();
  for (const auto& line : access_lines(host))
    if (line.at("script").as_string() == "/ping") {
      EXPECT_EQ(line.at("bytes").as_int64(), 64);
    }
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
// multiplexing balancer's does), and so does a request, which is served.
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
    // Anything else sent on a connection still open is served: the balancer
    // sent it before it could know (refused, it would be a failed request).
    client::request_options hello;
    hello.params = request_params("hello.greet", "late");
    const auto served = co_await conn.send(std::move(hello));
    EXPECT_EQ(served.protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::request_complete));
    EXPECT_TRUE(served.out.ends_with("Hello, late!\n")) << served.out;
    std::uint32_t status = 999;
    co_await read_to_end(running, status);
    EXPECT_EQ(status, 0u);
  });
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_EQ(wait_for_access(host, {.script = "/ping", .runner = "host", .outcome = "done", .app_status = 503}), 1u)
      << host.log();
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
  ASSERT_EQ(wait_for_access(host, {}, 3), 3u) << host.log();
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
  EXPECT_EQ(hello.at("outcome").as_string(), "done");
  EXPECT_EQ(hello.at("method").as_string(), "GET");
  EXPECT_EQ(hello.at("uri").as_string(), "/test");
  EXPECT_GT(hello.at("bytes").as_int64(), 0);
  EXPECT_TRUE(hello.at("time").as_string().ends_with("Z"));
  const auto& late = access[1];
  EXPECT_EQ(late.at("status").as_int64(), 408);
  EXPECT_EQ(late.at("outcome").as_string(), "timeout");
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


// The status page, as JSON: one request of each outcome moves its figure.
host_options status_options(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--status-path", "/status", "--ping-path", "/ping", "--timeout", "2"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  host_options options = with_arguments(std::move(arguments));
  options.plugins.push_back("crashing");
  return options;
}

std::int64_t route_outcome(const boost::json::object& status, std::string_view route, std::string_view outcome) {
  for (const auto& entry : status.at("routes").as_array())
    if (entry.as_object().at("route").as_string() == route)
      return entry.as_object().at("outcomes").as_object().at(outcome).as_int64();
  ADD_FAILURE() << "no route " << route;
  return -1;
}

TEST(HostStatus, TheFiguresMoveAsRequestsEnd) {
  host_process host(status_options({"--max-requests", "1"}));
  const auto before = status_json(host);
  EXPECT_EQ(before.at("state").as_string(), "serving");
  EXPECT_EQ(route_outcome(before, "(plugins)", "done"), 0);
  run_async([&]() -> awaitable<void> {
    for (int i = 0; i < 3; ++i) co_await fetch(host.address(), "hello.greet");
    co_await fetch(host.address(), "nosuch.plugin");        // 404
    co_await fetch(host.address(), "slow.polite", "5");     // 408 at 2 s
    co_await fetch(host.address(), "crashing.segfault");    // 502: its worker died
    co_await fetch(host.address(), "echo.body", {}, "twelve bytes");
    // Every slot taken: refused, while the status page is still answered.
    auto busy = co_await connection::connect(host.address());
    auto running = co_await begin_running(busy, "3");
    const auto refused = co_await fetch(host.address(), "hello.greet");
    EXPECT_EQ(refused.protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::overloaded));
    const auto during = co_await status_body(host.address(), "json");
    EXPECT_NE(during.find("\"in_flight\":1,"), std::string::npos) << during;
    std::uint32_t status = 999;
    co_await read_to_end(running, status);
  });
  const auto after = status_json(host);
  EXPECT_EQ(route_outcome(after, "(plugins)", "done"), 3 + 1 + 1);  // hellos, the echo, the stream
  EXPECT_EQ(route_outcome(after, "(plugins)", "not_found"), 1);
  EXPECT_EQ(route_outcome(after, "(plugins)", "timeout"), 1);
  EXPECT_EQ(route_outcome(after, "(plugins)", "crashed"), 1);
  for (const auto& entry : after.at("routes").as_array()) {
    if (entry.at("route").as_string() != "(plugins)") continue;
    const auto& statuses = entry.at("statuses").as_object();
    EXPECT_EQ(statuses.at("2xx").as_int64(), 3 + 1 + 1);
    EXPECT_EQ(statuses.at("4xx").as_int64(), 2) << "the 404 and the 408";
    EXPECT_EQ(statuses.at("5xx").as_int64(), 1) << "the crash's 502";
  }
  EXPECT_EQ(route_outcome(after, "(none)", "overloaded"), 1);  // refused before it was routed
  EXPECT_GE(route_outcome(after, "(host)", "done"), 2);         // the status requests themselves
  const auto& requests = after.at("requests").as_object();
  EXPECT_EQ(requests.at("most_in_flight").as_int64(), 1);
  EXPECT_EQ(requests.at("outcomes").as_object().at("timeout").as_int64(), 1);
  EXPECT_EQ(after.at("bytes").as_object().at("in").as_int64(), 12);
  EXPECT_GT(after.at("connections").as_object().at("accepted").as_int64(), 9);
  // One worker crashed; the one whose request was stopped at its deadline left after it.
  const auto& workers = after.at("workers").as_object();
  EXPECT_EQ(workers.at("crashed").as_int64(), 1);
  EXPECT_GE(workers.at("spawned").as_int64(), 4);  // hello, slow, crashing and echo
  EXPECT_EQ(workers.at("left").as_object().at("request_stopped").as_int64(), 1);
  EXPECT_EQ(workers.at("queued").as_int64(), 0);
  // The histogram counts every request of the route, the 408 above 1 s.
  for (const auto& entry : after.at("routes").as_array()) {
    const auto& route = entry.as_object();
    if (route.at("route").as_string() != "(plugins)") continue;
    std::int64_t counted = 0, slower = 0;
    for (const auto& bucket : route.at("buckets").as_array()) {
      counted += bucket.as_object().at("count").as_int64();
      if (bucket.as_object().at("le").is_double() && bucket.as_object().at("le").as_double() > 1)
        slower += bucket.as_object().at("count").as_int64();
    }
    EXPECT_EQ(counted, route.at("requests").as_int64());
    EXPECT_GE(slower, 1);
    EXPECT_GE(route.at("seconds_sum").as_double(), 2.0);
  }
}

// What `promtool check metrics` says of the openmetrics page: nothing (no
// error, no lint), and the counts are the ones the requests made.
TEST(HostStatus, TheOpenMetricsPagePassesPromtool) {
  host_process host(status_options());
  run_async([&]() -> awaitable<void> {
    for (int i = 0; i < 4; ++i) co_await fetch(host.address(), "hello.greet");
  });
  // As a Prometheus scrape config's `params: { openmetrics: [""] }` asks for it.
  const auto page = run_async([&] { return status_body(host.address(), "openmetrics="); });
  EXPECT_NE(page.find("\nfcgihost_requests_total{route=\"(plugins)\",outcome=\"done\"} 4\n"), std::string::npos)
      << page;
  EXPECT_NE(page.find("\nfcgihost_request_duration_seconds_count{route=\"(plugins)\"} 4\n"), std::string::npos);
  temp_dir dir;
  std::ofstream(dir / "metrics.txt") << page;
  const std::string command = "promtool check metrics < '" + (dir / "metrics.txt").string() + "' 2>&1";
  FILE* promtool = ::popen(command.c_str(), "r");
  ASSERT_NE(promtool, nullptr);
  std::string said;
  char chunk[512];
  while (const auto got = std::fread(chunk, 1, sizeof chunk, promtool)) said.append(chunk, got);
  EXPECT_EQ(::pclose(promtool), 0) << said;
  EXPECT_EQ(said, "") << page;
}

TEST(HostStatus, TheTextPageIsTheDefault) {
  host_process host(status_options());
  run_async([&]() -> awaitable<void> { co_await fetch(host.address(), "hello.greet"); });
  const auto page = run_async([&] { return status_body(host.address(), ""); });
  EXPECT_NE(page.find("state:                          serving\n"), std::string::npos) << page;
  EXPECT_NE(page.find("requests done:                  1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("\n(plugins)                        1  "), std::string::npos) << page;
}


TEST(HostStatus, WorkersRecycledAreCountedByReason) {
  host_process host(status_options({"--worker-max-requests", "2"}));
  run_async([&]() -> awaitable<void> {
    for (int i = 0; i < 6; ++i) co_await fetch(host.address(), "hello.greet");
  });
  EXPECT_EQ(wait_for_figure(host, "workers.left.max_requests", 3), 3) << host.log();
  const auto status = status_json(host);
  const auto& workers = status.at("workers").as_object();
  EXPECT_EQ(workers.at("left").as_object().at("max_requests").as_int64(), 3);
  EXPECT_EQ(workers.at("crashed").as_int64(), 0);
  EXPECT_GE(workers.at("spawned").as_int64(), 3);
  const auto page = run_async([&] { return status_body(host.address(), "openmetrics"); });
  EXPECT_NE(page.find("\nfcgihost_workers_left_total{reason=\"max_requests\"} 3\n"), std::string::npos) << page;
}


// --slow-threshold logs a request when it passes the threshold while it
// still runs (not at its end): for a worker, its pid; for a script, its
// process group as it is then. A quick request is never logged.
TEST(HostStatus, ASlowRequestIsLoggedWhileItStillRuns) {
  host_options options = status_options({"--slow-threshold", "0.3"});
  options.scripts = true;
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    co_await fetch(host.address(), "hello.greet");
    auto conn = co_await connection::connect(host.address());
    client::request_options slow;
    slow.params = request_params("slow.polite", "1");
    auto running = co_await conn.begin(std::move(slow));
    co_await running.end_stdin();
    std::uint32_t status = 999;
    co_await read_to_end(running, status);
    EXPECT_EQ(status, 0u);
    co_await fetch(host.address(), host.script("grandchild.sh"));  // 408 at the 2 s timeout
  });
  const std::string log = host.log();
  const auto slow_line = log.find("slow request: unix request 1 \"GET /test\" route=(plugins) runner=function "
                                  "script=slow.polite still running after 0.3");
  ASSERT_NE(slow_line, std::string::npos) << log;
  EXPECT_NE(log.find("; worker pid ", slow_line), std::string::npos);
  // Logged while it ran: before the request's access line.
  EXPECT_LT(slow_line, log.find(R"("script":"slow.polite","runner":"function","worker_pid":)")) << log;
  const auto script_line = log.find("runner=script script=" + host.script("grandchild.sh") + " still running after");
  ASSERT_NE(script_line, std::string::npos) << log;
  const std::string script_slow = log.substr(script_line, log.find('\n', script_line) - script_line);
  EXPECT_EQ(count_occurrences(script_slow, " sleep"), 2u) << script_slow;  // the script's and its grandchild's
  EXPECT_EQ(log.find("script=hello.greet still running"), std::string::npos);
  EXPECT_EQ(status_json(host).at("requests").as_object().at("slow").as_int64(), 2);
}


// Scripts, by how they ended: ran to their end (by exit status), stopped by
// SIGTERM when their request was over, or killed when they ignored it.
TEST(HostStatus, ScriptsAreCountedByHowTheyEnded) {
  host_options options = status_options({"--kill-grace", "0.3"});
  options.scripts = true;
  host_process host(options);
  write_file(host.scripts_dir() / "exit_code.sh", read_file(std::string(FCGIHOST_TEST_SCRIPTS) + "/exit_code.sh"));
  std::filesystem::permissions(host.scripts_dir() / "exit_code.sh", std::filesystem::perms::owner_all);
  run_async([&]() -> awaitable<void> {
    co_await fetch(host.address(), host.script("hello.sh"));
    co_await fetch(host.address(), host.script("exit_code.sh"), "3");
    co_await fetch(host.address(), host.script("exit_code.sh"), "3");
    co_await fetch(host.address(), host.script("grandchild.sh"));  // 408 at 2 s: SIGTERM stops it
    co_await fetch(host.address(), host.script("ignores_term.sh"));  // 408, then SIGKILL after 0.3 s
  });
  EXPECT_EQ(wait_for_figure(host, "scripts.killed", 1), 1) << host.log();
  EXPECT_EQ(wait_for_figure(host, "scripts.stopped_by_term", 1), 1) << host.log();
  const auto status = status_json(host);
  const auto& scripts = status.at("scripts").as_object();
  EXPECT_EQ(scripts.at("started").as_int64(), 5);
  EXPECT_EQ(scripts.at("exits").as_object().at("0").as_int64(), 1);
  EXPECT_EQ(scripts.at("exits").as_object().at("3").as_int64(), 2);
  EXPECT_EQ(scripts.at("stopped_by_term").as_int64(), 1);
  EXPECT_EQ(scripts.at("killed").as_int64(), 1);
  const auto page = run_async([&] { return status_body(host.address(), "openmetrics"); });
  EXPECT_NE(page.find("\nfcgihost_scripts_exits_total{code=\"3\"} 2\n"), std::string::npos) << page;
  EXPECT_NE(page.find("\nfcgihost_scripts_stopped_total{signal=\"KILL\"} 1\n"), std::string::npos) << page;
}


// Clients that ask for status pages and never read them hold at most
// host_answers_at_once of them (64) in the host: past that, OVERLOADED; once
// they go, the page is answered again.
TEST(HostStatus, StatusPagesNobodyReadsAreBounded) {
  host_process host(status_options());
  std::string many;
  const protocol::name_value_list params{{"SCRIPT_NAME", "/status"}, {"QUERY_STRING", "openmetrics"}};
  for (std::uint16_t id = 1; id <= 400; ++id) {  // more than the sockets buffer
    protocol::append_begin_request(many, id, protocol::role::responder, true);
    protocol::append_params(many, id, params);
    protocol::append_stream_end(many, protocol::record_type::std_in, id);
  }
  std::vector<raw_peer> stalled;
  for (int i = 0; i < 80; ++i) {
    stalled.emplace_back(host.socket_path().string());
    ASSERT_TRUE(stalled.back().send(many));
  }
  EXPECT_TRUE(host.wait_for_log("of the host's own answers are already being written")) << host.log().substr(0, 3000);
  // Once every peer's socket buffer is full, the 64 pages stay held: a new
  // request is refused (until then a page may still finish now and then).
  const auto overloaded = static_cast<std::uint8_t>(protocol::protocol_status::overloaded);
  std::uint8_t status = 0;
  const auto saturated_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (status != overloaded && std::chrono::steady_clock::now() < saturated_by) {
    status = run_async([&]() -> awaitable<client::response> {
               auto conn = co_await connection::connect(host.address());
               co_return co_await conn.send(request_for_path("/status"));
             }).protocol_status;
  }
  EXPECT_EQ(status, overloaded);
  stalled.clear();
  // The slots come back as the host sees the 80 hang-ups (each a failed
  // write of a page): asked again until answered, for at most 5 s.
  bool answered = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!answered && std::chrono::steady_clock::now() < give_up) {
    answered = run_async([&] { return status_body(host.address(), ""); }).starts_with("start time:");
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(answered) << host.log().substr(0, 3000);
}


const boost::json::object* entry_with(const boost::json::array& list, std::string_view key, const boost::json::value& value) {
  for (const auto& entry : list)
    if (entry.is_object() && entry.as_object().contains(key) && entry.as_object().at(key) == value) return &entry.as_object();
  return nullptr;
}

boost::json::object parsed(const std::string& body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return ec || !value.is_object() ? boost::json::object() : value.as_object();
}

// `full` lists each request in flight (a plugin's in its worker, a script's,
// the status request itself) and each worker, in JSON and text; once the
// requests end, they are gone from it and their worker is idle, having
// served one. The slow log gives the backtrace of the worker's handler.
TEST(HostStatus, TheFullViewShowsEachRequestInFlightAndEachWorker) {
  host_options options = status_options({"--slow-threshold", "0.3", "--timeout", "10"});
  options.scripts = true;
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    auto plugin_conn = co_await connection::connect(host.address());
    auto plugin_request = co_await begin_running(plugin_conn, "25");  // 2.5 s
    auto script_conn = co_await connection::connect(host.address());
    client::request_options script;
    script.params = request_params(host.script("slow.sh"), "3");
    auto script_request = co_await script_conn.begin(std::move(script));
    co_await script_request.end_stdin();
    EXPECT_FALSE((co_await script_request.next()).bytes.empty());  // it runs

    const auto status = parsed(co_await status_body(host.address(), "full&json"));
    const auto& requests = status.at("requests_in_flight").as_array();
    EXPECT_EQ(requests.size(), 3u) << status;
    const auto* plugin = entry_with(requests, "target", "slow.stream");
    const auto* in_script = entry_with(requests, "target", boost::json::value(host.script("slow.sh")));
    const auto* itself = entry_with(requests, "runner", "host");
    if (!plugin || !in_script || !itself) {
      ADD_FAILURE() << status;
      co_return;
    }
    EXPECT_EQ(plugin->at("state"), "running");
    EXPECT_EQ(plugin->at("route"), "(plugins)");
    EXPECT_EQ(plugin->at("method"), "GET");
    EXPECT_EQ(plugin->at("uri"), "/test");
    EXPECT_GT(plugin->at("elapsed_seconds").as_double(), 0);
    EXPECT_EQ(in_script->at("runner"), "script");
    EXPECT_GT(in_script->at("pid").as_int64(), 0);
    EXPECT_EQ(itself->at("uri"), "/status");
    const auto worker_pid = plugin->at("pid").as_int64();
    EXPECT_GT(worker_pid, 0);
    const auto* worker = entry_with(status.at("worker_processes").as_array(), "pid", worker_pid);
    if (!worker) {
      ADD_FAILURE() << status;
      co_return;
    }
    EXPECT_EQ(worker->at("state"), "busy");
    EXPECT_EQ(worker->at("plugin"), "slow");
    EXPECT_EQ(worker->at("served"), 0);
    EXPECT_GT(worker->at("rss_bytes").as_int64(), 1 << 20);
    const auto text = co_await status_body(host.address(), "full");
    EXPECT_NE(text.find("\nrequests in flight\n"), std::string::npos) << text;
    EXPECT_NE(text.find(" /test\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n" + std::to_string(worker_pid) + " "), std::string::npos) << text;

    // Where its handler is, in the slow log (its handler sleeps between lines).
    EXPECT_TRUE(host.wait_for_log("the handler in worker " + std::to_string(worker_pid) + " is at:")) << host.log();
    std::uint32_t app_status = 999;
    co_await read_to_end(plugin_request, app_status);
    co_await read_to_end(script_request, app_status);
    const auto after = parsed(co_await status_body(host.address(), "json&full"));
    EXPECT_EQ(after.at("requests_in_flight").as_array().size(), 1u) << after;  // itself
    const auto* worker_after = entry_with(after.at("worker_processes").as_array(), "pid", worker_pid);
    EXPECT_NE(worker_after, nullptr) << after;
    if (worker_after) {
      EXPECT_EQ(worker_after->at("state"), "idle");
      EXPECT_EQ(worker_after->at("served"), 1);
    }
  });
  const auto log = host.log();
  const auto backtrace = log.find("the handler in worker ");
  ASSERT_NE(backtrace, std::string::npos) << log;
  // Symbolised, down to the plugin's own copy (slow.N.so) and the sleep it waits in.
  // A log line each, after the one that says whose they are.
  std::string lines;
  std::istringstream after_it(log.substr(backtrace));
  for (std::string line; std::getline(after_it, line);)
    if (line.find("   #") != std::string::npos) lines += line + "\n";
  EXPECT_NE(lines.find("   #0 "), std::string::npos) << log;
  EXPECT_NE(lines.find(" in slow."), std::string::npos) << lines;
  EXPECT_NE(lines.find("sleep"), std::string::npos) << lines;
  EXPECT_EQ(status_json(host).at("requests").as_object().at("slow").as_int64(), 2);
}

// --status-listen: a listener for the ping and status paths only. Its
// connections count in no limit of the others: with every connection of
// --max-connections running a request, the status page is still answered.
TEST(HostStatus, TheStatusListenerAnswersWhenEveryConnectionIsTaken) {
  const auto status_socket = std::filesystem::temp_directory_path() /
                             ("fcgihost-status-test-" + std::to_string(::getpid()) + ".sock");
  host_process host(status_options({"--max-connections", "2", "--status-listen", "unix:" + status_socket.string()}));
  const std::string status_address = "unix:" + status_socket.string();
  run_async([&]() -> awaitable<void> {
    auto first = co_await connection::connect(host.address());
    auto running_first = co_await begin_running(first, "10");  // 1 s, in the 2 s timeout
    auto second = co_await connection::connect(host.address());
    auto running_second = co_await begin_running(second, "10");
    // A third connection on the main listener is refused: both run requests.
    auto third = co_await connection::connect(host.address());
    EXPECT_TRUE(host.wait_for_log("all with requests running")) << host.log();

    const auto status = parsed(co_await status_body(status_address, "json"));
    EXPECT_EQ(status.at("connections").as_object().at("open"), 2) << status;  // its own count in no limit
    EXPECT_GE(status.at("connections").as_object().at("refused").as_int64(), 1) << status;
    EXPECT_EQ(status.at("requests").as_object().at("in_flight"), 2) << status;
    auto ping_conn = co_await connection::connect(status_address);
    const auto ping = co_await ping_conn.send(request_for_path("/ping"));
    EXPECT_NE(ping.out.find("\r\n\r\npong\n"), std::string::npos) << ping.out;
    // Anything else on it: 404, and nothing runs.
    auto other_conn = co_await connection::connect(status_address);
    client::request_options hello;
    hello.params = request_params("hello.greet");
    const auto other = co_await other_conn.send(std::move(hello));
    EXPECT_NE(other.out.find("Status: 404"), std::string::npos) << other.out;
    std::uint32_t app_status = 999;
    co_await read_to_end(running_first, app_status);
    co_await read_to_end(running_second, app_status);
  });
  EXPECT_TRUE(host.wait_for_log("this listener (--status-listen) serves only the ping and status paths")) << host.log();
  EXPECT_EQ(count_access(host, {.script = "hello.greet"}), 0u) << host.log();
}

// Plugins: a first load, a newer file loaded in place of the old one, and a
// file that cannot be loaded (each request that tries it counts).
TEST(HostStatus, PluginLoadsReloadsAndFailuresAreCounted) {
  host_process host(status_options());
  run_async([&]() -> awaitable<void> {
    host.install_plugin("versioned_one", "libversioned.so");
    EXPECT_EQ((co_await fetch(host.address(), "versioned.which")).out, "Content-Type: text/plain\r\n\r\nversion 1\n");
    host.install_plugin("versioned_two", "libversioned.so");
    const auto two = co_await fetch_until(host.address(), "versioned.which", "",
                                          [](const auto& r) { return r.out.ends_with("version 2\n"); });
    EXPECT_EQ(two.out, "Content-Type: text/plain\r\n\r\nversion 2\n");
    write_file(host.plugins_dir() / "libbroken.so", "not a shared library\n");
    for (int i = 0; i < 2; ++i)
      EXPECT_NE((co_await fetch(host.address(), "broken.any")).out.find("Status: 500"), std::string::npos);
  });
  const auto plugins = status_json(host).at("plugins").as_object();
  EXPECT_EQ(plugins.at("loads"), 1) << plugins;
  EXPECT_EQ(plugins.at("reloads"), 1) << plugins;
  EXPECT_EQ(plugins.at("load_failures"), 2) << plugins;
  const auto page = run_async([&] { return status_body(host.address(), "openmetrics"); });
  EXPECT_NE(page.find("\nfcgihost_plugin_reloads_total 1\n"), std::string::npos) << page;
}

}  // namespace
}  // namespace fcgihost::test
