// fcgi-host as a process: signals, sockets it is handed or finds, the peers it
// refuses, and memory while streaming a gibibyte or facing a stalled reader.
#include <boost/json/src.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <iostream>

#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/nginx_process.hpp"
#include "../support/run_async.hpp"
#include "../support/stream_echo.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using client::connection;

// A slow.stream request known to be running, and the body it has sent so far.
struct running_stream {
  client::exchange request;
  std::string body_so_far;
};

// Begins slow.stream?LINES and returns once its first output has arrived, so
// the request is surely running.
awaitable<running_stream> begin_running_stream(connection& conn, std::string lines) {
  client::request_options options;
  options.params = request_params("slow.stream", std::move(lines));
  auto request = co_await conn.begin(std::move(options));
  co_await request.end_stdin();
  auto first = co_await request.next();
  // Its first line may come along in the same record (a worker's records
  // arrive read by read), so what follows the header is kept.
  constexpr std::string_view header = "Content-Type: text/plain\r\n\r\n";
  EXPECT_TRUE(first.bytes.starts_with(header)) << first.bytes;
  std::string body = first.bytes.starts_with(header) ? first.bytes.substr(header.size()) : std::string();
  co_return running_stream{std::move(request), std::move(body)};
}

TEST(HostLifecycle, SigtermLetsRequestsInFlightFinishThenExitsZero) {
  host_process host;
  std::uint32_t status = 999;
  const auto out = run_async([&]() -> awaitable<std::string> {
    auto conn = co_await connection::connect(host.address());
    auto running = co_await begin_running_stream(conn, "5");
    host.process().signal(SIGTERM);
    co_return running.body_so_far + co_await read_to_end(running.request, status);
  });
  EXPECT_EQ(out, "line 0\nline 1\nline 2\nline 3\nline 4\n");
  EXPECT_EQ(status, 0u);
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0);
  EXPECT_FALSE(std::filesystem::exists(host.socket_path())) << "the socket file was left behind";
  EXPECT_NE(host.log().find("SIGTERM: no new connections; waiting up to 10 s for 1 request(s)"), std::string::npos)
      << host.log();
}

TEST(HostLifecycle, DrainTimeoutBoundsTheWait) {
  host_process host(with_arguments({"--drain-timeout", "0.5", "--timeout", "60"}));
  int exit_code = -1;
  double seconds = 0;
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    auto request = co_await begin_running_stream(conn, "600");
    // The connection stays open (this coroutine holds it) while the host drains.
    const auto start = std::chrono::steady_clock::now();
    host.process().signal(SIGTERM);
    exit_code = host.process().wait(std::chrono::seconds(10));
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  });
  EXPECT_EQ(exit_code, 0);
  EXPECT_GE(seconds, 0.45);
  EXPECT_LT(seconds, 1.5) << "handlers were not told to stop at the drain timeout";
  EXPECT_NE(host.log().find("drain timeout: stopping with 1 request(s) still running"), std::string::npos)
      << host.log();
}

TEST(HostLifecycle, SecondSigintExitsAtOnce) {
  host_process host(with_arguments({"--drain-timeout", "60", "--timeout", "60"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    auto request = co_await begin_running_stream(conn, "600");
    host.process().signal(SIGINT);
    EXPECT_TRUE(host.wait_for_log("SIGINT: no new connections; waiting up to 60 s for 1 request(s)"));
    host.process().signal(SIGINT);
    EXPECT_EQ(host.process().wait(std::chrono::seconds(5)), 130);
  });
}

TEST(HostLifecycle, WebServerAddrsRefusesOtherPeers) {
  host_options refusing;
  refusing.tcp = true;
  refusing.environment = {"FCGI_WEB_SERVER_ADDRS=127.0.0.2, ::2"};
  host_process guarded(refusing);
  EXPECT_THROW(run_async([&] { return fetch(guarded.address(), "hello.greet"); }), std::exception);
  EXPECT_TRUE(guarded.wait_for_log("refused a connection from 127.0.0.1:")) << guarded.log();

  host_options allowing;
  allowing.tcp = true;
  allowing.environment = {"FCGI_WEB_SERVER_ADDRS=::1,127.0.0.1"};
  host_process open(allowing);
  const auto response = run_async([&] { return fetch(open.address(), "hello.greet", "tcp"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, tcp!\n");
}

TEST(HostLifecycle, WebServerAddrsAppliesToIpv6Peers) {
  // A second listener on IPv6.
  host_options refusing;
  refusing.tcp = true;
  refusing.tcp_v6_too = true;
  refusing.environment = {"FCGI_WEB_SERVER_ADDRS=127.0.0.1"};
  host_process guarded(refusing);
  ASSERT_EQ(guarded.addresses().size(), 2u) << guarded.log();
  const std::string v6 = guarded.addresses()[1];
  std::string failure = "no failure";
  try {
    run_async([&] { return fetch(v6, "hello.greet"); });
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // Accepted, then closed at once: not a failed connect.
  EXPECT_NE(failure.find("closed by the server"), std::string::npos) << failure;
  EXPECT_TRUE(guarded.wait_for_log("refused a connection from [::1]:")) << failure << "\n" << guarded.log();
  // ...and the IPv4 peer it names is served on the other listener.
  EXPECT_EQ(run_async([&] { return fetch(guarded.address(), "hello.greet"); }).app_status, 0u);

  host_options allowing;
  allowing.tcp = true;
  allowing.tcp_v6_too = true;
  allowing.environment = {"FCGI_WEB_SERVER_ADDRS=::1"};
  host_process open(allowing);
  ASSERT_EQ(open.addresses().size(), 2u) << open.log();
  const auto response = run_async([&] { return fetch(open.addresses()[1], "hello.greet", "v6"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, v6!\n");
}

TEST(HostLifecycle, ABadConfigFileStopsTheStartWithFileAndLine) {
  temp_dir dir;
  write_file(dir / "host.toml", "timeout = 5\n\n[[route]]\nmatch = \"*.x\"\n");
  const auto result = run_program({FCGIHOST_HOST_BIN, "--config", (dir / "host.toml").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("host.toml:3: a [[route]] needs function"), std::string::npos) << result.err;
  const auto typo = run_program({FCGIHOST_HOST_BIN, "--timeot", "5"});
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("unknown setting 'timeot'"), std::string::npos) << typo.err;
  // A setting that is gone says what replaced it.
  const auto gone = run_program({FCGIHOST_HOST_BIN, "--min-workers", "2"});
  EXPECT_EQ(gone.exit_code, 2);
  EXPECT_NE(gone.err.find("min-workers is no longer a setting"), std::string::npos) << gone.err;
}

TEST(HostLifecycle, LogFileGetsTheAccessLines) {
  temp_dir dir;
  host_process host(with_arguments({"--log-file", (dir / "host.log").string()}));
  EXPECT_EQ(run_async([&] { return fetch(host.address(), "hello.greet"); }).app_status, 0u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const std::string line = R"("script":"hello.greet","runner":"function")";  // its JSON access line
  while (read_file(dir / "host.log").find(line) == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_NE(read_file(dir / "host.log").find(line), std::string::npos);
}

TEST(HostLifecycle, BadWebServerAddrsStopsTheStart) {
  temp_dir dir;
  child_process host({FCGIHOST_HOST_BIN, "--listen", "unix:" + (dir / "s").string()}, dir / "out", dir / "err",
                     "/dev/null", {"FCGI_WEB_SERVER_ADDRS=not-an-address"});
  EXPECT_EQ(host.wait(), 1);
  EXPECT_NE(read_file(dir / "err").find("'not-an-address' is not an IPv4 or IPv6 address"), std::string::npos);
}

TEST(HostLifecycle, SighupReloadsTheConfigAndKeepsItWhenBroken) {
  temp_dir dir;
  write_file(dir / "host.toml", "timeout = 30\n");
  host_process host(with_arguments({"--config", (dir / "host.toml").string()}));
  EXPECT_EQ(run_async([&] { return fetch(host.address(), "slow.polite", "1.2"); }).app_status, 0u);

  write_file(dir / "host.toml", "timeout = 0.5\n");
  run_async([&]() -> awaitable<void> {
    // A keep-alive connection from before the reload is not dropped by it.
    auto conn = co_await connection::connect(host.address());
    client::request_options before;
    before.params = request_params("hello.greet");
    EXPECT_EQ((co_await conn.send(before)).app_status, 0u);
    host.process().signal(SIGHUP);
    EXPECT_EQ(wait_for_figure(host, "reloads.done", 1), 1);
    EXPECT_EQ((co_await conn.send(before)).app_status, 0u);
    EXPECT_TRUE(conn.is_open());
  });
  EXPECT_EQ(run_async([&] { return fetch(host.address(), "slow.polite", "5"); }).app_status, 408u);

  write_file(dir / "host.toml", "timeout = 0.5\nio-threads = 3\n");
  host.process().signal(SIGHUP);
  EXPECT_TRUE(host.wait_for_log("SIGHUP: io-threads changed, which takes a restart; the rest applies now"))
      << host.log();

  write_file(dir / "host.toml", "timeout = 'soon'\n");
  host.process().signal(SIGHUP);
  ASSERT_EQ(wait_for_figure(host, "reloads.failed", 1), 1);
  EXPECT_NE(host.log().find("host.toml:1: timeout takes a number of seconds"), std::string::npos) << host.log();
  EXPECT_EQ(run_async([&] { return fetch(host.address(), "slow.polite", "5"); }).app_status, 408u);
}

TEST(HostLifecycle, StaleSocketIsReplacedButALiveOneIsNot) {
  temp_dir dir;
  const std::string path = (dir / "host.sock").string();
  {  // a socket file left by a crashed server: bound, never unlinked
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
  }
  child_process first({FCGIHOST_HOST_BIN, "--listen", "unix:" + path}, dir / "out1", dir / "err1");
  ASSERT_TRUE(wait_for_unix_socket(path, first)) << read_file(dir / "err1");

  child_process second({FCGIHOST_HOST_BIN, "--listen", "unix:" + path}, dir / "out2", dir / "err2");
  EXPECT_EQ(second.wait(), 1);
  EXPECT_NE(read_file(dir / "err2").find("another server is listening on " + path), std::string::npos)
      << read_file(dir / "err2");
  EXPECT_TRUE(first.running());
}

TEST(HostLifecycle, UnixSocketIsOwnerAndGroupOnlyByDefault) {
  host_process host;
  const auto permissions = std::filesystem::status(host.socket_path()).permissions();
  using std::filesystem::perms;
  EXPECT_EQ(permissions & perms::all, perms::owner_read | perms::owner_write | perms::group_read | perms::group_write);
}

// A plugins folder in `dir` holding the hello plugin, for hosts another
// program launches.
std::string plugins_with_hello(const temp_dir& dir) {
  std::filesystem::create_directory(dir / "plugins");
  std::filesystem::copy_file(std::filesystem::path(FCGIHOST_PLUGIN_BUILD_DIR) / "libhello.so",
                             dir / "plugins/libhello.so");
  return (dir / "plugins").string();
}

TEST(HostLifecycle, ServesTheListeningSocketOnFdZeroFromSpawnFcgi) {
  temp_dir dir;
  const std::string plugins = plugins_with_hello(dir);
  const std::string path = (dir / "spawned.sock").string();
  child_process spawned({FCGIHOST_SPAWN_FCGI, "-n", "-s", path, "-M", "0600", "--", FCGIHOST_HOST_BIN, "--plugins", plugins},
                        dir / "out", dir / "err");
  ASSERT_TRUE(wait_for_unix_socket(path, spawned)) << read_file(dir / "err");
  const auto response = run_async([&] { return fetch("unix:" + path, "hello.greet", "fd0"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, fd0!\n");
  EXPECT_NE(read_file(dir / "err").find("listening on fd:0"), std::string::npos) << read_file(dir / "err");
}

TEST(HostLifecycle, ServesSystemdSocketActivation) {
  temp_dir dir;
  const std::string plugins = plugins_with_hello(dir);
  const std::string path = (dir / "activated.sock").string();
  child_process activator({FCGIHOST_SOCKET_ACTIVATE, "-l", path, "--", FCGIHOST_HOST_BIN, "--plugins", plugins},
                          dir / "out", dir / "err");
  ASSERT_TRUE(wait_for_unix_socket(path, activator)) << read_file(dir / "err");
  const auto response = run_async([&] { return fetch("unix:" + path, "hello.greet", "systemd"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, systemd!\n");
  EXPECT_NE(read_file(dir / "err").find("listening on systemd fd 3"), std::string::npos) << read_file(dir / "err");
}

TEST(HostStreaming, OneGibibyteEchoStreamsWithBoundedMemory) {
  host_process host(with_arguments({"--full-duplex", "true", "--timeout", "0"}));
  expect_gibibyte_echo_in_bounded_memory(host, "echo.body", "1 GiB echo");
}

TEST(HostStreaming, ABodyTheHandlerKeepsUpWithNeverWaitsOnDisk) {
  // One request on the connection: reading stops while the handler has a
  // backlog, instead of spooling the body to a temporary file.
  host_process host(with_arguments({"--full-duplex", "true", "--timeout", "0", "--log-level", "debug"}));
  stream_echo(host.address(), "echo.body", 256ull * 1024 * 1024);
  EXPECT_EQ(wait_for_access(host, {.runner = "function", .outcome = "done", .app_status = 0}), 1u);
  EXPECT_EQ(host.log().find("waits in a temporary file"), std::string::npos) << host.log();
}

TEST(HostStreaming, HeldOutputSpillsToDiskNotMemory) {
  // Default mode: output is held until the body ends, 64 MiB of it here.
  host_process host(with_arguments({"--timeout", "0", "--log-level", "debug"}));
  stream_echo(host.address(), "echo.body", 64ull * 1024 * 1024);
  EXPECT_TRUE(host.wait_for_log("output held until the body has arrived now waits in a temporary file"))
      << host.log();
  if (memory_is_measurable()) {
    EXPECT_LT(host.peak_rss_kib() / 1024, 48u);
  }
}

TEST(HostStreaming, IdleKeepAliveConnectionsCostLittleMemory) {
  // A web server's keep-alive pool holds many silent connections; each must
  // not hold a 64 KiB read buffer (10 000 of them once took 580 MiB).
  host_process host(with_arguments({"--max-connections", "5000"}));
  if (!memory_is_measurable()) GTEST_SKIP() << "RSS means nothing under AddressSanitizer";
  const std::size_t before_kib = host.rss_kib();
  constexpr std::size_t idle = 2000;
  boost::asio::io_context io;
  std::vector<asio::local::stream_protocol::socket> sockets;
  for (std::size_t i = 0; i < idle; ++i) {
    sockets.emplace_back(io);
    sockets.back().connect(asio::local::stream_protocol::endpoint(host.socket_path().string()));
  }
  // Accepted: the host holds a descriptor for each.
  for (int i = 0; i < 500 && open_fd_count(host.process().pid()) < idle; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(open_fd_count(host.process().pid()), idle);
  // And they still serve.
  const auto response = run_async([&] { return fetch(host.address(), "hello.greet", "idle"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, idle!\n");
  const double per_connection_kib =
      static_cast<double>(host.rss_kib() - std::min(before_kib, host.rss_kib())) / static_cast<double>(idle);
  std::cout << idle << " idle connections: " << per_connection_kib << " KiB of host RSS each\n";
  EXPECT_LT(per_connection_kib, 16.0);
}

TEST(HostStreaming, AStalledReaderPausesTheHandlerNotTheHost) {
  host_process host(with_arguments({"--full-duplex", "true", "--timeout", "0", "--log-level", "debug"}));
  const std::string block = patterned_bytes(1024 * 1024);
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    client::request_options options;
    options.params = request_params("echo.body", {}, "POST");
    auto request = co_await conn.begin(std::move(options));
    // 48 MiB in while nothing is read back: the echo's output backs up, the
    // handler waits, and the body waits in the spool on disk.
    for (int i = 0; i < 48; ++i) co_await request.write_stdin(block);
    co_await request.end_stdin();
    if (memory_is_measurable()) {
      EXPECT_LT(host.rss_kib() / 1024, 48u) << "the host buffered a stalled response in memory";
    }
    // Another request on another connection is served meanwhile.
    auto hello = co_await fetch(host.address(), "hello.greet", "meanwhile");
    EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nHello, meanwhile!\n");
    std::uint32_t status = 999;
    const std::string out = co_await read_to_end(request, status);
    EXPECT_EQ(out.size(), std::string("Content-Type: application/octet-stream\r\n\r\n").size() + 48 * block.size());
    EXPECT_EQ(status, 0u);
  });
  // The handler waited for the client, the client for the host to read its
  // body: the host read it after all, into the spool.
  EXPECT_NE(host.log().find("waits in a temporary file"), std::string::npos) << host.log();
  if (memory_is_measurable()) {
    EXPECT_LT(host.peak_rss_kib() / 1024, 64u);
  }
}

}  // namespace
}  // namespace fcgihost::test
