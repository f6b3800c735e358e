// Plugin handlers under the host: timeouts before and after output, handlers
// that ignore the stop token, exceptions, and plugins dropped, replaced and
// removed while the host runs.
#include <boost/json/src.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <sstream>
#include <thread>

#include "../support/host_process.hpp"
#include "../support/run_async.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using client::connection;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(HostFunctions, TimeoutBeforeOutputAnswers408) {
  host_process host(with_arguments({"--timeout", "1"}));
  const auto start = std::chrono::steady_clock::now();
  const auto response = run_async([&] { return fetch(host.address(), "slow.polite", "30"); });
  const double elapsed = seconds_since(start);
  EXPECT_TRUE(response.out.starts_with("Status: 408 Request Timeout\r\n")) << response.out;
  EXPECT_NE(response.out.find("\r\n\r\nThe request did not finish within 1 s.\n"), std::string::npos) << response.out;
  EXPECT_EQ(response.app_status, 408u);
  EXPECT_GE(elapsed, 0.95);
  EXPECT_LT(elapsed, 3.0);
  EXPECT_EQ(wait_for_access(host, {.script = "slow.polite", .outcome = "timeout"}), 1u) << host.log();
}

// Reads an exchange until END_REQUEST or until the connection fails; says which.
struct partial_response {
  std::string out;
  bool ended = false;  // END_REQUEST arrived
  std::uint32_t app_status = 0;
};

awaitable<partial_response> read_until_end_or_cut(client::exchange& request) {
  partial_response seen;
  try {
    while (true) {
      auto event = co_await request.next();
      if (event.type == client::output_event::kind::out) seen.out += event.bytes;
      if (event.type == client::output_event::kind::end) {
        seen.ended = true;
        seen.app_status = event.app_status;
        break;
      }
    }
  } catch (const std::exception&) {
    // The connection closed without END_REQUEST.
  }
  co_return seen;
}

TEST(HostFunctions, TimeoutAfterOutputStartedCutsTheResponseAloneOnItsConnection) {
  host_process host(with_arguments({"--timeout", "1"}));
  const auto seen = run_async([&]() -> awaitable<partial_response> {
    auto conn = co_await connection::connect(host.address());
    client::request_options options;
    options.params = request_params("slow.stream");
    auto request = co_await conn.begin(std::move(options));
    co_await request.end_stdin();
    co_return co_await read_until_end_or_cut(request);
  });
  EXPECT_TRUE(seen.out.starts_with("Content-Type: text/plain\r\n\r\nline 0\n")) << seen.out;
  EXPECT_EQ(seen.out.find("408"), std::string::npos) << "a 408 after the headers went out";
  EXPECT_FALSE(seen.ended) << "a cut response must not end with END_REQUEST, or it looks complete";
  EXPECT_EQ(wait_for_figure(host, "connections.closed.response_cut", 1), 1) << host.log();
  EXPECT_EQ(wait_for_access(host, {.outcome = "timeout", .app_status = 408}), 1u) << host.log();
}

TEST(HostFunctions, TimeoutAfterOutputStartedOnAMultiplexedConnectionEndsWith408) {
  host_process host(with_arguments({"--timeout", "1"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    conn.set_max_in_flight(2);
    client::request_options slow;
    slow.params = request_params("slow.stream");
    auto streaming = co_await conn.begin(std::move(slow));
    co_await streaming.end_stdin();
    client::request_options polite;
    polite.params = request_params("slow.polite", "30");  // still there at the first one's deadline
    auto other = co_await conn.begin(std::move(polite));
    co_await other.end_stdin();
    const auto cut = co_await read_until_end_or_cut(streaming);
    EXPECT_TRUE(cut.ended) << "other requests share the connection: it stays open";
    EXPECT_EQ(cut.app_status, 408u);
    EXPECT_EQ(cut.out.find("408"), std::string::npos) << cut.out;
    const auto second = co_await read_until_end_or_cut(other);
    EXPECT_TRUE(second.ended);
    EXPECT_TRUE(second.out.starts_with("Status: 408 Request Timeout\r\n")) << second.out;
  });
}

TEST(HostFunctions, RouteTimeoutOverridesTheDefault) {
  temp_dir config_dir;
  write_file(config_dir / "host.toml",
             "timeout = 30\n[[route]]\nprefix = \"quick/\"\nfunction = \"slow.polite\"\ntimeout = 0.5\n");
  host_process routed(with_arguments({"--config", (config_dir / "host.toml").string()}));
  const auto start = std::chrono::steady_clock::now();
  const auto response = run_async([&] { return fetch(routed.address(), "quick/anything", "30"); });
  EXPECT_EQ(response.app_status, 408u);
  EXPECT_LT(seconds_since(start), 10.0) << "the route's 0.5 s, not the default 30 s";
  EXPECT_EQ(wait_for_access(routed, {.script = "quick/anything", .outcome = "timeout"}), 1u) << routed.log();
}

TEST(HostFunctions, AHandlerIgnoringStopCostsOneThreadNotTheService) {
  // In process: the handler pool's threads are what a stubborn handler holds.
  host_process host(with_arguments({"--isolation", "none", "--timeout", "1", "--io-threads", "1", "--handler-threads", "4"}));
  run_async([&]() -> awaitable<void> {
    // Two stubborn handlers hold their threads for 5 s after their 408s...
    auto first = co_await fetch(host.address(), "slow.stubborn", "5");
    EXPECT_EQ(first.app_status, 408u);
    auto second = co_await fetch(host.address(), "slow.stubborn", "5");
    EXPECT_EQ(second.app_status, 408u);
    // ...and healthy requests are still served, on new threads.
    const auto start = std::chrono::steady_clock::now();
    auto hello = co_await fetch(host.address(), "hello.greet", "still here");
    EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nHello, still here!\n");
    EXPECT_LT(seconds_since(start), 1.0);
  });
  EXPECT_EQ(wait_for_figure(host, "handlers.returned_late", 1), 1) << host.log();
}

std::vector<std::filesystem::path> copy_folders_of(pid_t pid) {
  std::vector<std::filesystem::path> found;
  const std::string prefix = "fcgi-host-plugins-" + std::to_string(pid) + "-";
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::temp_directory_path()))
    if (entry.path().filename().string().starts_with(prefix)) found.push_back(entry.path());
  return found;
}

// The private copies of plugins go with the host even when it leaves past a
// handler that ignores its stop (without its destructors); the folders of a
// host that was killed go when the next host starts.
TEST(HostFunctions, PluginCopiesDoNotOutliveTheirHost) {
  // A host gone without cleaning up, as SIGKILL leaves one: a pid that no longer runs.
  pid_t gone = 0;
  {
    child_process short_lived({"/bin/true"}, "/dev/null", "/dev/null");
    gone = short_lived.pid();
  }
  const auto abandoned = std::filesystem::temp_directory_path() /
                         ("fcgi-host-plugins-" + std::to_string(gone) + "-test01");
  std::filesystem::create_directory(abandoned);
  write_file(abandoned / "hello.1.so", "a copy\n");
  host_process host(with_arguments({"--isolation", "none", "--timeout", "0.5", "--drain-timeout", "0.5"}));
  EXPECT_FALSE(std::filesystem::exists(abandoned));
  const pid_t pid = host.process().pid();
  EXPECT_FALSE(copy_folders_of(pid).empty());  // the in-process catalog's and the workers'
  run_async([&]() -> awaitable<void> {
    EXPECT_EQ((co_await fetch(host.address(), "slow.stubborn", "5")).app_status, 408u);
  });
  host.process().signal(SIGTERM);
  EXPECT_TRUE(host.wait_for_log("ignored the stop request; exiting without waiting for them")) << host.log();
  EXPECT_TRUE(wait_until_gone(pid, std::chrono::milliseconds(10000))) << host.log();
  EXPECT_TRUE(copy_folders_of(pid).empty());
}

TEST(HostFunctions, AnExceptionAnswers500WithItsMessageOnStderr) {
  host_process host;
  run_async([&]() -> awaitable<void> {
    auto failed = co_await fetch(host.address(), "thrower.fail");
    EXPECT_TRUE(failed.out.starts_with("Status: 500 Internal Server Error\r\n")) << failed.out;
    EXPECT_EQ(failed.app_status, 500u);
    EXPECT_NE(failed.err.find("thrower.fail was asked to fail"), std::string::npos) << failed.err;
    auto hello = co_await fetch(host.address(), "hello.greet");
    EXPECT_EQ(hello.app_status, 0u);
  });
  EXPECT_EQ(wait_for_access(host, {.script = "thrower.fail", .outcome = "failed", .status = 500}), 1u) << host.log();
}

TEST(HostFunctions, ABodyOverTheLimitIs413AndStopsTheHandler) {
  host_process host(with_arguments({"--max-body-bytes", "100000", "--timeout", "60"}));
  run_async([&]() -> awaitable<void> {
    const auto over = co_await fetch(host.address(), "echo.body", {}, std::string(100001, 'b'));
    EXPECT_TRUE(over.out.starts_with("Status: 413 Content Too Large\r\n")) << over.out.substr(0, 200);
    EXPECT_EQ(over.app_status, 413u);
    const auto at_limit = co_await fetch(host.address(), "echo.body", {}, std::string(100000, 'b'));
    EXPECT_EQ(at_limit.app_status, 0u);
    EXPECT_EQ(at_limit.out.size(), std::string("Content-Type: application/octet-stream\r\n\r\n").size() + 100000);
  });
  EXPECT_EQ(wait_for_access(host, {.outcome = "body_too_large", .status = 413}), 1u) << host.log();
}

TEST(HostFunctions, StderrReachesTheWebServerAndTheLog) {
  host_process host;
  const auto response = run_async([&] { return fetch(host.address(), "stderr_writer.warn"); });
  EXPECT_EQ(response.err, "stderr_writer: something to log for /test\n");
  EXPECT_NE(host.log().find("stderr: stderr_writer: something to log for /test"), std::string::npos) << host.log();
}

TEST(HostFunctions, UnknownPluginsHandlersAndNamesAre404) {
  host_process host;
  run_async([&]() -> awaitable<void> {
    for (const char* script : {"missing.greet", "hello.missing", "hello", "../etc.passwd", "hello.", "relative/x.y"}) {
      auto response = co_await fetch(host.address(), script);
      EXPECT_TRUE(response.out.starts_with("Status: 404 Not Found\r\n")) << script << ": " << response.out;
      EXPECT_EQ(response.app_status, 404u) << script;
    }
  });
}

TEST(HostFunctions, ResponsesAroundTheBufferSizesArriveWhole) {
  // A stream's first buffer is 16 KiB, later ones 256 KiB, two at a time.
  host_process host;
  run_async([&]() -> awaitable<void> {
    for (const std::size_t size : {0, 1, 16383, 16384, 16385, 300000, 4 * 1024 * 1024}) {
      const auto response = co_await fetch(host.address(), "echo.bytes", std::to_string(size));
      const std::string head =
          "Content-Type: application/octet-stream\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
      EXPECT_EQ(response.out.size(), head.size() + size) << size;
      EXPECT_EQ(response.out.substr(0, head.size()), head) << size;
      EXPECT_EQ(response.out.find_first_not_of('x', head.size()), std::string::npos) << size;
      EXPECT_EQ(response.app_status, 0u);
    }
  });
}

TEST(HostFunctions, PluginsAreDroppedInReplacedAndRemovedWhileServing) {
  host_options options;
  options.plugins = {};
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    auto absent = co_await fetch(host.address(), "versioned.which");
    EXPECT_EQ(absent.app_status, 404u);

    host.install_plugin("versioned_one", "libversioned.so");
    auto one = co_await fetch(host.address(), "versioned.which");
    EXPECT_EQ(one.out, "Content-Type: text/plain\r\n\r\nversion 1\n");

    // A request on version 1 is in flight while version 2 replaces it.
    auto conn = co_await connection::connect(host.address());
    client::request_options slow;
    slow.params = request_params("versioned.wait", "0.5");
    auto in_flight = co_await conn.begin(std::move(slow));
    co_await in_flight.end_stdin();
    auto started = co_await in_flight.next();  // it runs on version 1 now
    EXPECT_EQ(started.bytes, "Content-Type: text/plain\r\n\r\nversion 1 starts\n");
    // Seen once the folder watch has woken up: no stat per request.
    host.install_plugin("versioned_two", "libversioned.so");
    auto two = co_await fetch_until(host.address(), "versioned.which", "",
                                    [](const auto& r) { return r.out.ends_with("version 2\n"); });
    EXPECT_EQ(two.out, "Content-Type: text/plain\r\n\r\nversion 2\n");
    std::uint32_t status = 0;
    EXPECT_EQ(co_await read_to_end(in_flight, status), "version 1 ends\n");
    EXPECT_EQ(status, 1u);

    std::filesystem::remove(host.plugins_dir() / "libversioned.so");
    auto removed = co_await fetch_until(host.address(), "versioned.which", "",
                                        [](const auto& r) { return r.app_status == 404; });
    EXPECT_EQ(removed.app_status, 404u);
  });
}

TEST(HostFunctions, SymlinkOutOfThePluginsFolderIsNotLoaded) {
  host_options options;
  options.plugins = {};
  host_process host(options);
  temp_dir elsewhere;
  std::filesystem::copy_file(std::filesystem::path(FCGIHOST_PLUGIN_BUILD_DIR) / "libhello.so", elsewhere / "libhello.so");
  std::filesystem::create_symlink(elsewhere / "libhello.so", host.plugins_dir() / "libhello.so");
  const auto response = run_async([&] { return fetch(host.address(), "hello.greet"); });
  EXPECT_EQ(response.app_status, 404u) << response.out;
}

TEST(HostFunctions, AHandlerCanBeExportedUnderAnotherName) {
  host_process host;
  const auto response = run_async([&] { return fetch(host.address(), "hello.say-hi", "alias"); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello, alias!\n");
}

TEST(HostFunctions, APluginForAnotherAbiIsRefusedNotCalled) {
  host_process host;
  host.install_plugin("wrong_abi");
  const auto response = run_async([&] { return fetch(host.address(), "wrong_abi.handler"); });
  EXPECT_EQ(response.app_status, 500u);
  EXPECT_NE(response.err.find("built for plugin ABI 1000, the host speaks 2"), std::string::npos) << response.err;
  // Refused from the file: none of its code ran, in the host or in a worker.
  EXPECT_EQ(host.log().find("its static constructor ran"), std::string::npos) << host.log();
}

// A plugin in plain C, against the C ABI alone, in process and in workers:
// parameters, a body streamed through the host's output buffer, and a wait
// that the request's deadline ends.
// A C init reads [plugin.c_hello]; its failure is the plugin's 500.
TEST(HostFunctions, APluginInPlainCGetsItsSettingsInItsInit) {
  for (const std::string isolation : {"none", "process"}) {
    SCOPED_TRACE(isolation);
    temp_dir files;
    const auto config = files.path() / "host.toml";
    write_file(config, "[plugin.c_hello]\ngreeting = \"Bonjour\"\n");
    host_options options = with_arguments({"--isolation", isolation, "--config", config.string()});
    options.plugins.push_back("c_hello");
    host_process host(options);
    run_async([&]() -> awaitable<void> {
      const auto hello = co_await fetch(host.address(), "c_hello.greet", "ada");
      EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nBonjour, ada, from C!\n");
    });
    write_file(config, "[plugin.c_hello]\ngreeting = \"" + std::string(64, 'x') + "\"\n");
    host.process().signal(SIGHUP);
    EXPECT_EQ(wait_for_figure(host, "reloads.done", 1), 1);
    run_async([&]() -> awaitable<void> {
      const auto refused = co_await fetch(host.address(), "c_hello.greet", "ada");
      EXPECT_EQ(refused.app_status, 500u);
      EXPECT_NE(refused.err.find("its init failed: greeting is longer than 63 bytes"), std::string::npos)
          << refused.err;
    });
  }
}

TEST(HostFunctions, APluginInPlainCIsServed) {
  for (const std::string isolation : {"none", "process"}) {
    host_options options = with_arguments({"--isolation", isolation, "--timeout", "1"});
    options.plugins.push_back("c_hello");
    host_process host(options);
    run_async([&]() -> awaitable<void> {
      const auto hello = co_await fetch(host.address(), "c_hello.greet", "ada");
      EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nHello, ada, from C!\n") << isolation;
      std::string body(3 * 1024 * 1024 + 17, '\0');
      for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + i / 4096);
      const auto echoed = co_await fetch(host.address(), "c_hello.echo", {}, body);
      EXPECT_EQ(echoed.out, "Content-Type: application/octet-stream\r\n\r\n" + body) << isolation;
      const auto waited = co_await fetch(host.address(), "c_hello.wait", "0.05");
      EXPECT_EQ(waited.out, "Content-Type: text/plain\r\n\r\nwaited\n") << isolation;
      const auto stopped = co_await fetch(host.address(), "c_hello.wait", "30");
      EXPECT_EQ(stopped.app_status, 408u) << isolation;
    });
    // Its wait returned at the stop, not after 30 s: the worker leaves once
    // its handler returns (not killed after the kill grace); in process, the
    // host stops without a handler left running.
    if (isolation == "process") {
      EXPECT_EQ(wait_for_figure(host, "workers.left.request_stopped", 1), 1) << host.log();
    } else {
      host.process().signal(SIGTERM);
      EXPECT_TRUE(host.wait_for_log("stopped\n")) << host.log();
      EXPECT_EQ(host.log().find("ignored the stop request"), std::string::npos) << host.log();
    }
  }
}

// A C++ plugin built with clang++ and libc++, in process (two C++ runtimes
// in one process, meeting only through the C ABI) and in workers.
TEST(HostFunctions, APluginBuiltWithClangAndLibcxxIsServed) {
  for (const std::string isolation : {"none", "process"}) {
    host_options options = with_arguments({"--isolation", isolation});
    options.plugins.push_back("clang_hello");
    host_process host(options);
    run_async([&]() -> awaitable<void> {
      const auto hello = co_await fetch(host.address(), "clang_hello.greet", "ada");
      EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nHello, ada, from libc++!\n") << isolation;
      const auto upper = co_await fetch(host.address(), "clang_hello.upper", {}, "one\ntwo three\n");
      EXPECT_EQ(upper.out, "Content-Type: text/plain\r\n\r\nONE\nTWO THREE\n") << isolation;
      // The C++ one, built with g++ and libstdc++, in the same host.
      EXPECT_EQ((co_await fetch(host.address(), "hello.greet", "bob")).out,
                "Content-Type: text/plain\r\n\r\nHello, bob!\n");
    });
  }
}

// The C++ SDK's conveniences over real requests: a decoded query, a form
// POST that sets a cookie, the cookie read back, an http_error's status, a
// body over read_body's limit (413), and sleep_for cut short by the deadline.
TEST(HostFunctions, TheSdkConveniencesAnswerAsAHandlerWouldByHand) {
  host_options options = with_arguments({"--timeout", "1"});
  options.plugins.push_back("sdk_tour");
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    const auto greet = co_await fetch(host.address(), "sdk_tour.greet", "name=Ada%20L&tag=x&tag=y+z");
    EXPECT_EQ(greet.out, "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, Ada L!\ntag: x\ntag: y z\n");
    client::request_options post;
    post.params = request_params("sdk_tour.login", {}, "POST");
    post.params.push_back({"CONTENT_TYPE", "application/x-www-form-urlencoded"});
    auto conn = co_await client::connection::connect(host.address());
    const auto signed_in = co_await conn.send(post, "name=ada&remember=on");
    EXPECT_EQ(signed_in.out, "Status: 303 See Other\r\nContent-Type: text/plain\r\nSet-Cookie: user=ada; HttpOnly\r\n"
                             "Location: /login\r\n\r\nWelcome, ada.\n");
    client::request_options with_cookie;
    with_cookie.params = request_params("sdk_tour.login");
    with_cookie.params.push_back({"HTTP_COOKIE", "theme=dark; user=\"ada\""});
    auto conn2 = co_await client::connection::connect(host.address());
    EXPECT_EQ((co_await conn2.send(with_cookie)).out, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nSigned in as ada\n");
    // A name that would split the Set-Cookie header is refused by the handler (422, its http_error).
    auto conn3 = co_await client::connection::connect(host.address());
    EXPECT_EQ((co_await conn3.send(post, "name=a%0D%0ASet-Cookie:x")).out,
              "Status: 422 Unprocessable Content\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLetters and digits only.\n");
    const auto small = co_await fetch(host.address(), "sdk_tour.small", {}, "sixteen bytes ok");
    EXPECT_EQ(small.out, "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\nsixteen bytes ok");
    const auto large = co_await fetch(host.address(), "sdk_tour.small", {}, "seventeen bytes!!");
    EXPECT_TRUE(large.out.starts_with("Status: 413 Content Too Large\r\n")) << large.out;
    const auto nap = co_await fetch(host.address(), "sdk_tour.nap", "seconds=0.05");
    EXPECT_EQ(nap.out, "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nslept 0.05 s\n");
    const auto stopped = co_await fetch(host.address(), "sdk_tour.nap", "seconds=30");
    EXPECT_EQ(stopped.app_status, 408u);
  });
  // The 30 s nap returned at the deadline: its worker leaves once its handler returns.
  EXPECT_EQ(wait_for_figure(host, "workers.left.request_stopped", 1), 1) << host.log();
}

// The configured test plugin's journal: "init PID GREETING" and
// "shutdown PID GREETING" lines.
struct journal_line {
  std::string event;
  std::string pid;
  std::string greeting;
};

std::vector<journal_line> read_journal(const std::filesystem::path& file) {
  std::vector<journal_line> lines;
  std::istringstream text(std::filesystem::exists(file) ? read_file(file) : std::string());
  journal_line line;
  while (text >> line.event >> line.pid >> line.greeting) lines.push_back(line);
  return lines;
}

std::size_t journal_count(const std::filesystem::path& file, const std::string& event, const std::string& greeting) {
  const auto lines = read_journal(file);
  return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const journal_line& line) {
    return line.event == event && line.greeting == greeting;
  }));
}

// Polls the journal (what a plugin's shutdown writes comes after the request
// that caused it has been answered).
bool wait_for_journal(const std::filesystem::path& file, const std::string& event, const std::string& greeting) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (journal_count(file, event, greeting) == 0) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string configured_settings(const std::filesystem::path& journal, const std::string& extra) {
  return "[plugin.configured]\njournal_file = \"" + journal.string() + "\"\n" + extra +
         "[plugin.other]\ngreeting = \"NotMine\"\n";
}

// A host serving the configured test plugin from a config file of its own.
struct configured_plugin_host {
  temp_dir files;
  std::filesystem::path journal = files.path() / "journal";
  std::filesystem::path config = files.path() / "host.toml";
  std::optional<host_process> host;

  configured_plugin_host(const std::string& isolation, const std::string& settings) {
    write_file(config, configured_settings(journal, settings));
    host_options options = with_arguments({"--isolation", isolation, "--config", config.string()});
    options.plugins.push_back("configured");
    host.emplace(options);
  }
  // Rewrites [plugin.configured] (and [plugin.other]), sends SIGHUP and
  // waits (bounded) until the host has read the file.
  bool reload_with(const std::string& settings, const std::string& more = {}) {
    write_file(config, configured_settings(journal, settings) + more);
    host->process().signal(SIGHUP);
    ++reloads;
    return wait_for_figure(*host, "reloads.done", reloads) == reloads;
  }
  std::int64_t reloads = 0;
  client::response greet() {
    client::response answer;
    run_async([&]() -> awaitable<void> { answer = co_await fetch(host->address(), "configured.greet", "name=Ada"); });
    return answer;
  }
  // Left to exit on its own: a second SIGTERM during its teardown would end it there.
  void stop() {
    host->process().signal(SIGTERM);
    EXPECT_EQ(host->process().wait(std::chrono::seconds(10)), 0) << host->log();
  }
};

std::string greeting_answer(const std::string& greeting) {
  return "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n" + greeting + ", Ada!\n";
}

// [plugin.NAME] of the config reaches the plugin's init, in process and in
// each worker, never on a command line; a SIGHUP that changes it loads the
// plugin anew with it; every version's shutdown runs once it is unloaded
// (replaced, its worker leaving, the host stopping).
TEST(HostFunctions, APluginsInitGetsItsSettingsAndItsShutdownRuns) {
  for (const std::string isolation : {"none", "process"}) {
    SCOPED_TRACE(isolation);
    configured_plugin_host served(isolation, "greeting = \"Bonjour\"\n");
    const auto& journal = served.journal;
    EXPECT_EQ(served.greet().out, greeting_answer("Bonjour"));
    // Once in process; once in each worker started so far (spares too).
    if (isolation == "none") {
      EXPECT_EQ(journal_count(journal, "init", "Bonjour"), 1u);
    }
    EXPECT_GE(journal_count(journal, "init", "Bonjour"), 1u);
    EXPECT_EQ(journal_count(journal, "shutdown", "Bonjour"), 0u);
    // Settings may hold passwords: any user can read a command line.
    for (const pid_t child : live_children(served.host->process().pid())) {
      const auto command_line = read_file("/proc/" + std::to_string(child) + "/cmdline");
      EXPECT_EQ(command_line.find("Bonjour"), std::string::npos) << command_line;
    }

    EXPECT_TRUE(served.reload_with("greeting = \"Salut\"\n"));
    EXPECT_EQ(served.greet().out, greeting_answer("Salut"));
    EXPECT_TRUE(wait_for_journal(journal, "shutdown", "Bonjour")) << served.host->log();

    // Another plugin's settings changing reloads nothing of this one.
    const auto inits_before = journal_count(journal, "init", "Salut");
    EXPECT_TRUE(served.reload_with("greeting = \"Salut\"\n", "changed = \"yes\"\n")) << served.host->log();
    EXPECT_EQ(served.greet().out, greeting_answer("Salut"));
    if (isolation == "none") {
      EXPECT_EQ(journal_count(journal, "init", "Salut"), inits_before);
    }

    served.stop();
    // Every load of it, in the host or in a worker, said goodbye.
    const auto lines = read_journal(journal);
    for (const auto& line : lines) {
      if (line.event != "init") continue;
      EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                              [&](const journal_line& other) {
                                return other.event == "shutdown" && other.pid == line.pid &&
                                       other.greeting == line.greeting;
                              }),
                1)
          << "init in " << line.pid << " with " << line.greeting << "\n"
          << read_file(journal) << served.host->log();
    }
  }
}

// An init that fails makes every request for the plugin a 500 with its
// message, without running the init again for each (it may open a database
// connection); the failure stands until the settings (or the file) change.
TEST(HostFunctions, AFailedInitIs500WithItsMessageUntilTheSettingsChange) {
  for (const std::string isolation : {"none", "process"}) {
    SCOPED_TRACE(isolation);
    configured_plugin_host served(isolation, "greeting = \"Hi\"\nrefuse = \"no database at db.example:5432\"\n");
    for (int i = 0; i < 5; ++i) {
      const auto refused = served.greet();
      EXPECT_EQ(refused.app_status, 500u);
      EXPECT_NE(refused.out.find("Status: 500"), std::string::npos) << refused.out;
      EXPECT_NE(refused.err.find("its init failed: no database at db.example:5432"), std::string::npos) << refused.err;
    }
    EXPECT_EQ(journal_count(served.journal, "init", "Hi"), 1u) << read_file(served.journal);

    EXPECT_TRUE(served.reload_with("greeting = \"Hi\"\n"));
    EXPECT_EQ(served.greet().out, greeting_answer("Hi"));
    // A failed init's plugin is never shut down: it never started.
    served.stop();
    EXPECT_EQ(journal_count(served.journal, "init", "Hi"), journal_count(served.journal, "shutdown", "Hi") + 1)
        << read_file(served.journal);
  }
}

// An init's failure message of a megabyte is cut to 4 KiB, the same in
// process and from a worker (whose answer is one FastCGI record: uncut, the
// message was lost and the worker reported as exiting while loading).
TEST(HostFunctions, AnInitsFailureMessageIsCutTo4KiB) {
  for (const std::string isolation : {"none", "process"}) {
    SCOPED_TRACE(isolation);
    configured_plugin_host served(isolation, "refuse = \"" + std::string(1024 * 1024, 'x') + "\"\n");
    const auto cut = served.greet();
    EXPECT_EQ(cut.app_status, 500u);
    EXPECT_NE(cut.err.find("its init failed: " + std::string(4096, 'x') + "... (1044480 more bytes)"), std::string::npos)
        << cut.err.substr(0, 300);
    EXPECT_LT(cut.err.size(), 8192u);
  }
}

// A shutdown that takes its time runs on a thread of its own: replacing the
// plugin delays no request (the host's one I/O thread would otherwise wait
// for it), and the host leaves 1 s after it at the latest. In workers, the
// host kills one that does not leave.
TEST(HostFunctions, ASlowShutdownHoldsUpNoRequestNorTheHostsExit) {
  for (const std::string isolation : {"none", "process"}) {
    SCOPED_TRACE(isolation);
    configured_plugin_host served(isolation, "greeting = \"Slow\"\nshutdown_seconds = \"60\"\n");
    EXPECT_EQ(served.greet().out, greeting_answer("Slow"));
    EXPECT_TRUE(served.reload_with("greeting = \"Next\"\nshutdown_seconds = \"60\"\n"));
    const auto began = std::chrono::steady_clock::now();
    EXPECT_EQ(served.greet().out, greeting_answer("Next"));
    EXPECT_TRUE(wait_for_journal(served.journal, "shutdown", "Slow")) << served.host->log();
    // The old version's shutdown now sleeps for a minute; requests go on.
    for (int i = 0; i < 20; ++i) EXPECT_EQ(served.greet().out, greeting_answer("Next"));
    EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(10));

    const auto stopping = std::chrono::steady_clock::now();
    served.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(10)) << served.host->log();
    if (isolation == "none") {
      EXPECT_NE(served.host->log().find("a plugin's shutdown did not return within 1 s"), std::string::npos)
          << served.host->log();
    }
    // No worker outlives the host.
    for (const auto& line : read_journal(served.journal))
      EXPECT_TRUE(wait_until_gone(std::stoi(line.pid), std::chrono::seconds(5))) << line.pid;
  }
}

// Two inits in one plugin leave the host to pick: it refuses the plugin.
TEST(HostFunctions, APluginWithTwoInitsIsRefused) {
  for (const std::string isolation : {"none", "process"}) {
    SCOPED_TRACE(isolation);
    host_options options = with_arguments({"--isolation", isolation});
    options.plugins.push_back("two_inits");
    host_process host(options);
    run_async([&]() -> awaitable<void> {
      const auto refused = co_await fetch(host.address(), "two_inits.hello");
      EXPECT_EQ(refused.app_status, 500u);
      EXPECT_NE(refused.err.find("it exports more than one init"), std::string::npos) << refused.err;
    });
  }
}

TEST(HostFunctions, ABrokenPluginIs500AndTheHostLivesOn) {
  host_process host;
  write_file(host.plugins_dir() / "libbroken.so", "not an ELF file");
  run_async([&]() -> awaitable<void> {
    auto broken = co_await fetch(host.address(), "broken.anything");
    EXPECT_EQ(broken.app_status, 500u);
    EXPECT_NE(broken.err.find("cannot be loaded"), std::string::npos) << broken.err;
    auto hello = co_await fetch(host.address(), "hello.greet");
    EXPECT_EQ(hello.app_status, 0u);
  });
}

}  // namespace
}  // namespace fcgihost::test
