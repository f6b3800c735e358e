// fcgi-host's FastCGI protocol behaviour over a real unix socket, driven by
// the client library: multiplexing, keep-conn, management records, roles,
// limits, ABORT, and bad input that must only cost its own connection.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/src.hpp>

#include <gtest/gtest.h>

#include <fcgihost/protocol/encoder.hpp>

#include "../support/host_process.hpp"
#include "../support/run_async.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using client::connection;

// Polls `done` every few milliseconds, at most `limit`; false on time-out.
template <typename Predicate>
awaitable<bool> eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) co_return false;
    tick.expires_after(std::chrono::milliseconds(5));
    co_await tick.async_wait(asio::as_tuple(use_awaitable));
  }
  co_return true;
}

TEST(HostProtocol, ServesAPluginHandler) {
  host_process host;
  const auto response = run_async([&] { return fetch(host.address(), "hello.greet", "Ada"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, Ada!\n");
  EXPECT_EQ(response.app_status, 0u);
  EXPECT_EQ(response.protocol_status, 0);
  EXPECT_EQ(wait_for_access(host, {.script = "hello.greet", .runner = "function", .outcome = "done", .app_status = 0}),
            1u)
      << host.log();
}

TEST(HostProtocol, GetValuesReportsTheConfiguredLimits) {
  host_process host(with_arguments({"--max-requests", "7", "--max-connections", "9"}));
  const auto values = run_async([&]() -> awaitable<protocol::name_value_list> {
    auto conn = co_await connection::connect(host.address());
    std::vector<std::string> names{"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", "FCGI_NO_SUCH_NAME"};
    co_return co_await conn.get_values(std::move(names));
  });
  EXPECT_EQ(values, (protocol::name_value_list{{"FCGI_MAX_CONNS", "9"}, {"FCGI_MAX_REQS", "7"}, {"FCGI_MPXS_CONNS", "1"}}));
}

TEST(HostProtocol, UnknownManagementRecordGetsUnknownType) {
  host_process host;
  const auto reply = run_async([&]() -> awaitable<client::management_reply> {
    auto conn = co_await connection::connect(host.address());
    co_return co_await conn.management_request(77, "whatever");
  });
  EXPECT_EQ(reply.type, static_cast<std::uint8_t>(protocol::record_type::unknown_type));
  EXPECT_EQ(reply.unknown_type, 77);
}

TEST(HostProtocol, TheFilterRoleAndUnknownRolesGetUnknownRole) {
  host_process host;
  const auto responses = run_async([&]() -> awaitable<std::vector<client::response>> {
    auto conn = co_await connection::connect(host.address());
    std::vector<client::response> seen;
    for (std::uint16_t role : {3, 0, 99}) {
      client::request_options options;
      options.role = role;
      options.params = request_params("hello.greet");
      seen.push_back(co_await conn.send(std::move(options)));
    }
    // The connection stays usable for a responder request.
    client::request_options hello;
    hello.params = request_params("hello.greet");
    seen.push_back(co_await conn.send(std::move(hello)));
    co_return seen;
  });
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(responses[i].protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::unknown_role));
    EXPECT_EQ(responses[i].out, "");
  }
  EXPECT_EQ(responses[3].protocol_status, 0);
  EXPECT_EQ(responses[3].out, "Content-Type: text/plain\r\n\r\nHello, world!\n");
}

// An Authorizer request for `uri`, with `headers`; its SCRIPT_FILENAME as
// Apache sends it, cut to what exists of the path (which no route matches).
client::request_options authorizer_request(const std::string& uri, protocol::name_value_list headers) {
  client::request_options options;
  options.role = static_cast<std::uint16_t>(protocol::role::authorizer);
  options.params = {{"SCRIPT_FILENAME", "/var/www"}, {"REQUEST_METHOD", "GET"}, {"REQUEST_URI", uri}};
  options.params.insert(options.params.end(), headers.begin(), headers.end());
  return options;
}

// Authorizer requests go to the routes with role = "authorizer" (a plugin's
// handler and a script here), and only there; their answers reach the web
// server as they are: a 200 with Variable- headers, or the denial.
TEST(HostProtocol, TheAuthorizerRoleIsServedByAuthorizerRoutesAlone) {
  temp_dir config_dir;
  write_file(config_dir / "host.toml",
             "[[route]]\nmatch = \"*/bearer/*\"\nrole = \"authorizer\"\nfunction = \"authorizer.bearer\"\n"
             "[[route]]\nmatch = \"*/apikey/*\"\nrole = \"authorizer\"\nscript = \"authorizer.sh\"\n"
             "[plugin.authorizer]\ntokens = \"t0ken=ada,other=grace\"\n");
  host_options options = with_arguments({"--config", (config_dir / "host.toml").string()});
  options.plugins = {"authorizer", "hello"};
  options.scripts = true;
  host_process host(options);
  const auto ask = [&](client::request_options request) {
    return run_async([&]() -> awaitable<client::response> {
      auto conn = co_await connection::connect(host.address());
      co_return co_await conn.send(std::move(request));
    });
  };
  EXPECT_EQ(ask(authorizer_request("/srv/bearer/report.pdf?page=2", {{"HTTP_AUTHORIZATION", "Bearer t0ken"}})).out,
            "Status: 200 OK\r\nVariable-AUTH_USER: ada\r\n\r\n");
  const auto denied = ask(authorizer_request("/srv/bearer/report.pdf", {{"HTTP_AUTHORIZATION", "Bearer guess"}}));
  EXPECT_TRUE(denied.out.starts_with("Status: 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n")) << denied.out;
  EXPECT_EQ(denied.app_status, 0u);
  // The script learns its role from FCGI_ROLE, whatever the server sent.
  EXPECT_EQ(ask(authorizer_request("/srv/apikey/data", {{"HTTP_X_API_KEY", "let-me-in"}, {"FCGI_ROLE", "RESPONDER"}})).out,
            "Status: 200 OK\r\nVariable-API_CLIENT: script-checked\r\n\r\n");
  EXPECT_TRUE(ask(authorizer_request("/srv/apikey/data", {{"HTTP_X_API_KEY", "nope"}})).out.starts_with(
      "Status: 403 Forbidden\r\n"));
  // No authorizer route matches: denied, never a responder's answer.
  const auto unrouted = ask(authorizer_request("/hello.greet?x=/bearer/", {}));
  EXPECT_TRUE(unrouted.out.starts_with("Status: 403 Forbidden\r\n")) << unrouted.out;
  EXPECT_EQ(wait_for_access(host, {.outcome = "forbidden", .status = 403}), 1u) << "refused by the host, unrouted";
  // A responder request never reaches an authorizer route.
  client::request_options responder;
  responder.params = request_params("x/bearer/y");
  responder.params.push_back({"HTTP_AUTHORIZATION", "Bearer t0ken"});
  const auto as_responder = ask(std::move(responder));
  EXPECT_EQ(as_responder.out.find("Variable-"), std::string::npos) << as_responder.out;
  EXPECT_TRUE(as_responder.out.starts_with("Status: 404")) << as_responder.out;
}

// Served one after another, these would take 50 x 0.5 s; run at once, about 0.5 s.
TEST(HostProtocol, FiftySlowRequestsOnOneConnectionRunAtOnce) {
  host_process host;
  const auto start = std::chrono::steady_clock::now();
  const auto statuses = run_async([&] { return fetch_at_once(host.address(), "slow.polite", "0.5", 50); });
  for (const auto& out : statuses) EXPECT_EQ(out, "Content-Type: text/plain\r\n\r\nslept\n");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0)
      << "the 50 requests were served one after another (25 s), not at once";
}

TEST(HostProtocol, FiftyRequestsInterleaveOnOneConnection) {
  host_process host;
  const auto outcome = run_async([&]() -> awaitable<std::pair<std::size_t, std::vector<client::response>>> {
    using namespace asio::experimental::awaitable_operators;
    auto conn = co_await connection::connect(host.address());
    co_await conn.negotiate();
    std::vector<client::response> responses(50);
    std::size_t done = 0;
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (int i = 0; i < 50; ++i) {
      asio::co_spawn(
          executor,
          [&, i]() -> awaitable<void> {
            client::request_options options;
            options.params = request_params("echo.body", {}, "POST");
            // Bodies of different sizes, so requests finish out of order.
            std::string body(1000 * (50 - i), static_cast<char>('A' + i % 26));
            responses[i] = co_await conn.send(std::move(options), body);
          },
          [&](std::exception_ptr failure) {
            if (failure) ADD_FAILURE() << "a multiplexed request failed";
            if (++done == 50) all_done.cancel();
          });
    }
    co_await all_done.async_wait(asio::as_tuple(use_awaitable));
    co_return std::pair{conn.max_in_flight(), responses};
  });
  EXPECT_GE(outcome.first, 50u);
  for (int i = 0; i < 50; ++i) {
    const std::string expected = "Content-Type: application/octet-stream\r\n\r\n" +
                                 std::string(1000 * (50 - i), static_cast<char>('A' + i % 26));
    EXPECT_EQ(outcome.second[i].out, expected) << "request " << i;
  }
}

TEST(HostProtocol, KeepConnCarriesManyRequestsAndItsAbsenceClosesTheConnection) {
  host_process host;
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    for (int i = 0; i < 3; ++i) {
      client::request_options options;
      options.params = request_params("hello.greet", std::to_string(i));
      auto response = co_await conn.send(std::move(options));
      EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, " + std::to_string(i) + "!\n");
    }
    EXPECT_TRUE(conn.is_open());
    client::request_options last;
    last.params = request_params("hello.greet", "last");
    last.keep_conn = false;
    auto response = co_await conn.send(std::move(last));
    EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, last!\n");
    EXPECT_TRUE(co_await eventually([&] { return !conn.is_open(); })) << "the host kept the connection open";
  });
}

TEST(HostProtocol, ARequestIdIsFreeTheMomentItsEndArrives) {
  // nginx reuses id 1 as soon as it reads END_REQUEST; so does our client.
  host_process host(with_arguments({"--log-level", "info"}));
  const int served = run_async([&]() -> awaitable<int> {
    auto conn = co_await connection::connect(host.address());
    int ok = 0;
    for (int i = 0; i < 2000; ++i) {
      client::request_options options;
      options.params = request_params("hello.greet", "again");
      auto response = co_await conn.send(std::move(options));
      if (response.out == "Content-Type: text/plain\r\n\r\nHello, again!\n") ++ok;
    }
    co_return ok;
  });
  EXPECT_EQ(served, 2000);
  EXPECT_EQ(figure(host, "connections.closed.protocol_error"), 0);
}

TEST(HostProtocol, MaxRequestsAnswersOverloadedThenRecovers) {
  host_process host(with_arguments({"--max-requests", "1"}));
  run_async([&]() -> awaitable<void> {
    auto busy = co_await connection::connect(host.address());
    client::request_options slow;
    slow.params = request_params("slow.stream", "5");
    auto first = co_await busy.begin(std::move(slow));
    co_await first.end_stdin();
    co_await first.next();  // its first output: it surely holds the one slot

    auto other = co_await connection::connect(host.address());
    client::request_options hello;
    hello.params = request_params("hello.greet");
    auto refused = co_await other.send(hello);
    EXPECT_EQ(refused.protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::overloaded));

    std::uint32_t status = 999;
    co_await read_to_end(first, status);
    EXPECT_EQ(status, 0u);
    auto served = co_await other.send(hello);
    EXPECT_EQ(served.protocol_status, 0);
    EXPECT_EQ(served.out, "Content-Type: text/plain\r\n\r\nHello, world!\n");
  });
  EXPECT_EQ(wait_for_access(host, {.outcome = "overloaded"}), 1u) << host.log();
}

TEST(HostProtocol, AbortRequestStopsTheHandlerAndEndsTheRequest) {
  host_process host(with_arguments({"--timeout", "60"}));
  const auto [event, elapsed] = run_async([&]() -> awaitable<std::pair<client::output_event, double>> {
    auto conn = co_await connection::connect(host.address());
    client::request_options options;
    options.params = request_params("slow.polite", "60");
    auto request = co_await conn.begin(std::move(options));
    co_await request.end_stdin();
    const auto start = std::chrono::steady_clock::now();
    co_await request.abort();
    client::output_event seen;
    do seen = co_await request.next();
    while (seen.type != client::output_event::kind::end);
    co_return std::pair{seen, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
  });
  EXPECT_EQ(event.app_status, 499u);
  EXPECT_LT(elapsed, 5.0);
  EXPECT_EQ(wait_for_access(host, {.outcome = "aborted", .app_status = 499}), 1u) << host.log();
}

TEST(HostProtocol, MalformedInputClosesOnlyThatConnection) {
  host_process host(with_arguments({"--timeout", "60"}));
  run_async([&]() -> awaitable<void> {
    // A request in flight on another connection must not notice.
    auto busy = co_await connection::connect(host.address());
    client::request_options slow;
    slow.params = request_params("slow.polite", "0.5");
    auto in_flight = co_await busy.begin(std::move(slow));
    co_await in_flight.end_stdin();

    auto bad = co_await connection::connect(host.address());
    co_await bad.write_raw(std::string("\x02\x01\x00\x01\x00\x08\x00\x00", 8));  // version 2
    EXPECT_TRUE(co_await eventually([&] { return !bad.is_open(); })) << "the bad connection stayed open";

    auto healthy = co_await fetch(host.address(), "hello.greet", "after");
    EXPECT_EQ(healthy.out, "Content-Type: text/plain\r\n\r\nHello, after!\n");
    std::uint32_t status = 999;
    EXPECT_EQ(co_await read_to_end(in_flight, status), "Content-Type: text/plain\r\n\r\nslept\n");
    EXPECT_EQ(status, 0u);
  });
  EXPECT_EQ(wait_for_figure(host, "connections.closed.protocol_error", 1), 1) << host.log();
}

TEST(HostProtocol, ParamsOverTheLimitCloseTheConnection) {
  host_process host(with_arguments({"--max-params-bytes", "1024"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    client::request_options options;
    options.params = request_params("hello.greet");
    options.params.push_back({"HTTP_COOKIE", std::string(2000, 'c')});
    try {
      co_await conn.send(std::move(options));
      ADD_FAILURE() << "a request with oversized params was answered";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("connection closed by the server"), std::string::npos) << e.what();
    }
    // Just under the limit is served.
    client::request_options fits;
    fits.params = request_params("hello.greet");
    fits.params.push_back({"HTTP_COOKIE", std::string(900, 'c')});
    auto conn2 = co_await connection::connect(host.address());
    auto response = co_await conn2.send(std::move(fits));
    EXPECT_EQ(response.app_status, 0u);
  });
  EXPECT_EQ(wait_for_figure(host, "connections.closed.protocol_error", 1), 1) << host.log();
}

TEST(HostProtocol, DuplicateRequestIdIsAProtocolError) {
  host_process host;
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    std::string records;
    protocol::append_begin_request(records, 5, protocol::role::responder, true);
    protocol::append_begin_request(records, 5, protocol::role::responder, true);
    co_await conn.write_raw(records);
    EXPECT_TRUE(co_await eventually([&] { return !conn.is_open(); }));
  });
  EXPECT_EQ(wait_for_figure(host, "connections.closed.protocol_error", 1), 1) << host.log();
}

}  // namespace
}  // namespace fcgihost::test
