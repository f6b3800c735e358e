// Scripts under the host, CGI-style, over a real socket: what a script sees,
// what it may not be, how it is stopped (timeout, abort, lost connection,
// SIGTERM ignored, grandchildren), its limits, and that a thousand of them
// leave no zombie and no descriptor behind.
#include <boost/json/src.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <iostream>
#include <sstream>
#include <thread>

#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/run_async.hpp"
#include "../support/stream_echo.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::awaitable;
using client::connection;

host_options serving_scripts(std::vector<std::string> arguments = {}) {
  host_options options;
  options.scripts = true;
  options.plugins = {};
  options.arguments = std::move(arguments);
  return options;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The number after `label ` in `text` ("script 123 grandchild 124").
pid_t number_after(const std::string& text, const std::string& label) {
  const auto at = text.find(label + " ");
  if (at == std::string::npos) return -1;
  return static_cast<pid_t>(std::stol(text.substr(at + label.size() + 1)));
}

// Starts grandchild.sh and returns once its stderr has named both pids.
struct running_grandchild {
  client::exchange request;
  pid_t script = -1;
  pid_t grandchild = -1;
};

awaitable<running_grandchild> start_grandchild(connection& conn, const host_process& host) {
  client::request_options options;
  options.params = request_params(host.script("grandchild.sh"));
  auto request = co_await conn.begin(std::move(options));  // named: see g++ 12 and temporaries in co_await
  running_grandchild running{std::move(request)};
  co_await running.request.end_stdin();
  std::string err;
  while (running.grandchild <= 0) {
    auto event = co_await running.request.next();
    EXPECT_NE(event.type, client::output_event::kind::end) << "the script ended early";
    if (event.type == client::output_event::kind::end) break;
    if (event.type == client::output_event::kind::err) err += event.bytes;
    running.script = number_after(err, "script");
    if (err.find('\n') != std::string::npos) running.grandchild = number_after(err, "grandchild");
  }
  co_return running;
}

TEST(HostScripts, HelloAndTheExitStatusAsAppStatus) {
  host_process host(serving_scripts());
  run_async([&]() -> awaitable<void> {
    auto hello = co_await fetch(host.address(), host.script("hello.sh"));
    EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nHello from a shell script!\n");
    EXPECT_EQ(hello.app_status, 0u);
    auto seven = co_await fetch(host.address(), host.script("exit_code.sh"), "7");
    EXPECT_EQ(seven.out, "Content-Type: text/plain\r\n\r\nexiting with 7\n");
    EXPECT_EQ(seven.app_status, 7u);
  });
  EXPECT_EQ(wait_for_access(host, {.runner = "script", .outcome = "done", .app_status = 7}), 1u) << host.log();
}

TEST(HostScripts, TheEnvironmentIsCgiAndTheHostsOwnStaysOut) {
  host_options options = serving_scripts({"--pass-env", "FCGIHOST_SHARED"});
  options.environment = {"FCGIHOST_SECRET=do-not-leak", "FCGIHOST_SHARED=shared-on-purpose"};
  host_process host(options);
  const auto response = run_async([&]() -> awaitable<client::response> {
    auto conn = co_await connection::connect(host.address());
    client::request_options request;
    request.params = {{"SCRIPT_FILENAME", host.script("env.py") + "/extra/info"},
                      {"SCRIPT_NAME", "/env.py/extra/info"},
                      {"QUERY_STRING", "a=b&c"},
                      {"REQUEST_METHOD", "GET"},
                      {"HTTP_HOST", "example.test"},
                      {"PATH", "/attacker/bin"},           // a param never replaces the host's PATH
                      {"FCGIHOST_SHARED", "from-the-client"},  // nor a passed variable
                      {"HTTP_PROXY", "http://attacker:8080"}};  // httpoxy
    co_return co_await conn.send(std::move(request));
  });
  const std::string& env = response.out;
  auto has_line = [&](const std::string& line) { return env.find("\n" + line + "\n") != std::string::npos; };
  EXPECT_TRUE(has_line("# working directory: " + fs::canonical(host.scripts_dir()).string())) << env;
  EXPECT_TRUE(has_line("SCRIPT_FILENAME=" + host.script("env.py"))) << env;
  EXPECT_TRUE(has_line("PATH_INFO=/extra/info")) << env;
  EXPECT_TRUE(has_line("SCRIPT_NAME=/env.py")) << env;
  EXPECT_TRUE(has_line("QUERY_STRING=a=b&c")) << env;
  EXPECT_TRUE(has_line("HTTP_HOST=example.test")) << env;
  EXPECT_TRUE(has_line("GATEWAY_INTERFACE=CGI/1.1")) << env;
  EXPECT_TRUE(has_line("FCGIHOST_SHARED=shared-on-purpose")) << env;
  // The host's PATH (Python run through pyenv may put its own folders in front).
  const auto path_line = env.find("\nPATH=");
  ASSERT_NE(path_line, std::string::npos) << env;
  const std::string path = env.substr(path_line + 6, env.find('\n', path_line + 1) - path_line - 6);
  EXPECT_TRUE(path.ends_with(std::getenv("PATH"))) << path;
  EXPECT_EQ(env.find("do-not-leak"), std::string::npos) << env;
  EXPECT_EQ(env.find("/attacker/bin"), std::string::npos) << env;
  EXPECT_EQ(env.find("from-the-client"), std::string::npos) << env;
  EXPECT_EQ(env.find("HTTP_PROXY"), std::string::npos) << env;
}

TEST(HostScripts, AScriptGetsDescriptorsZeroToTwoOnly) {
  host_process host(serving_scripts());
  const auto response = run_async([&] { return fetch(host.address(), host.script("open_fds.py")); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\n0 1 2\n");
}

TEST(HostScripts, StderrReachesFcgiStderrAndTheLog) {
  host_process host(serving_scripts());
  const auto response = run_async([&] { return fetch(host.address(), host.script("stderr.pl")); });
  EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nsee the error log\n");
  EXPECT_EQ(response.err, "stderr.pl: a warning for the error log\n");
  EXPECT_NE(host.log().find("stderr: stderr.pl: a warning for the error log"), std::string::npos) << host.log();
}

TEST(HostScripts, ScriptsThatFailAnswer500AndSayWhy) {
  host_process host(serving_scripts());
  struct failing {
    std::string script;
    std::uint32_t app_status;
    std::string why;
  };
  const std::vector<failing> cases{
      {"silent.sh", 500, "exited with status 0 without writing a response"},
      {"crash.sh", 128 + SIGSEGV, "killed by SIGSEGV"},
      {"no_interpreter", 500, "no_interpreter: Exec format error"},
      {"missing_interpreter.sh", 500, "missing_interpreter.sh: No such file or directory"},
  };
  for (const auto& test : cases) {
    const auto response = run_async([&] { return fetch(host.address(), host.script(test.script)); });
    EXPECT_TRUE(response.out.starts_with("Status: 500 Internal Server Error\r\n")) << test.script << ": " << response.out;
    EXPECT_EQ(response.app_status, test.app_status) << test.script;
    EXPECT_NE(response.err.find(test.why), std::string::npos) << test.script << ": " << response.err;
    EXPECT_EQ(wait_for_access(host, {.script = host.script(test.script), .outcome = "failed"}), 1u) << host.log();
  }
  EXPECT_NE(host.log().find("cannot run " + fs::canonical(host.scripts_dir()).string() + "/no_interpreter"),
            std::string::npos);
  EXPECT_TRUE(no_zombie_children_within(host.process().pid(), std::chrono::seconds(2)));
}

TEST(HostScripts, NothingOutsideTheScriptsFolderRuns) {
  host_process host(serving_scripts());
  temp_dir outside;
  const fs::path marker = outside / "ran";
  write_file(outside / "outside.sh", "#!/bin/sh\ntouch " + marker.string() + "\nprintf 'Content-Type: text/plain\\r\\n\\r\\nran\\n'\n");
  fs::permissions(outside / "outside.sh", fs::perms::owner_all);
  const fs::path scripts = host.scripts_dir();
  fs::create_symlink(outside / "outside.sh", scripts / "link_out.sh");
  fs::create_symlink(scripts / "hello.sh", scripts / "link_in.sh");
  fs::create_directory(scripts / "folder.sh");

  struct refused {
    std::string filename;
    int status;
    std::string logged;
  };
  const std::vector<refused> cases{
      {(outside / "outside.sh").string(), 403, "is outside the scripts folder"},
      {scripts.string() + "/link_out.sh", 403, "link_out.sh' is outside the scripts folder"},
      {scripts.string() + "/../" + scripts.filename().string() + "/hello.sh", 403, "contains '..'"},
      {scripts.string() + "/folder.sh", 403, "folder.sh' is a directory"},
      {scripts.string() + "/not_executable.sh", 403, "not_executable.sh' is not executable by the host"},
      {scripts.string() + "/missing.sh", 404, "no script"},
      {scripts.string() + "/folder.sh/missing", 404, "no script"},
      {scripts.string() + "/hello.sh" + std::string(1, '\0') + "x", 404, "NUL byte"},
      {"/bin/sh", 403, "is outside the scripts folder"},
  };
  for (const auto& test : cases) {
    const auto response = run_async([&] { return fetch(host.address(), test.filename); });
    EXPECT_TRUE(response.out.starts_with("Status: " + std::to_string(test.status))) << test.filename << ": " << response.out;
    EXPECT_EQ(response.out.find("must never run"), std::string::npos) << test.filename;
    EXPECT_EQ(response.app_status, static_cast<std::uint32_t>(test.status)) << test.filename;
    EXPECT_NE(host.log().find(test.logged), std::string::npos) << test.filename << ": " << host.log();
  }
  EXPECT_FALSE(fs::exists(marker)) << "a script outside the folder ran";
  // A symlink that stays inside the folder is fine.
  const auto linked = run_async([&] { return fetch(host.address(), scripts.string() + "/link_in.sh"); });
  EXPECT_EQ(linked.out, "Content-Type: text/plain\r\n\r\nHello from a shell script!\n");
}

TEST(HostScripts, WithoutAScriptsFolderNoPathRuns) {
  host_process host;  // no --scripts
  const auto response = run_async([&] { return fetch(host.address(), "/bin/true"); });
  EXPECT_TRUE(response.out.starts_with("Status: 404 Not Found\r\n")) << response.out;
  EXPECT_EQ(wait_for_access(host, {.outcome = "not_found", .status = 404}), 1u) << host.log();
}

TEST(HostScripts, OneGibibyteUploadStreamsThroughCatWithBoundedMemory) {
  host_process host(serving_scripts({"--full-duplex", "true", "--timeout", "0"}));
  expect_gibibyte_echo_in_bounded_memory(host, host.script("echo.sh"), "1 GiB through cat");
}

TEST(HostScripts, AScriptWritingTenMebibytesBeforeReadingDoesNotDeadlock) {
  const std::string body = patterned_bytes(3 * 1024 * 1024 + 11);
  const std::string expected_tail =
      "\nreceived " + std::to_string(body.size()) + " bytes, crc32 " + crc32_hex(body) + "\n";
  for (const char* full_duplex : {"false", "true"}) {
    host_process host(serving_scripts({"--full-duplex", full_duplex}));
    const auto response =
        run_async([&] { return fetch(host.address(), host.script("write_first.py"), {}, body); });
    const std::string header = "Content-Type: application/octet-stream\r\n\r\n";
    ASSERT_EQ(response.out.size(), header.size() + 10 * 1024 * 1024 + expected_tail.size()) << full_duplex;
    EXPECT_TRUE(response.out.ends_with(expected_tail)) << full_duplex << ": " << response.out.substr(response.out.size() - 80);
    EXPECT_EQ(response.app_status, 0u);
  }
}

TEST(HostScripts, TimeoutAnswers408AndStopsTheWholeProcessGroup) {
  host_process host(serving_scripts({"--timeout", "1", "--kill-grace", "5"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    const auto start = std::chrono::steady_clock::now();
    auto running = co_await start_grandchild(conn, host);
    std::uint32_t app_status = 0;
    const std::string out = co_await read_to_end(running.request, app_status);
    EXPECT_TRUE(out.starts_with("Status: 408 Request Timeout\r\n")) << out;
    EXPECT_EQ(app_status, 408u);
    EXPECT_GE(seconds_since(start), 0.95);
    // Both took SIGTERM: gone well within the 5 s grace.
    EXPECT_TRUE(wait_until_gone(running.script, std::chrono::milliseconds(2000))) << "the script lives on";
    EXPECT_TRUE(wait_until_gone(running.grandchild, std::chrono::milliseconds(2000))) << "the grandchild lives on";
    EXPECT_LT(seconds_since(start), 4.0);
  });
  EXPECT_TRUE(host.wait_for_log("grandchild.sh (pid")) << host.log();
  EXPECT_EQ(wait_for_figure(host, "scripts.stopped_by_term", 1), 1) << host.log();
  EXPECT_TRUE(no_zombie_children_within(host.process().pid(), std::chrono::seconds(2)));
}

TEST(HostScripts, AScriptIgnoringSigtermIsKilledAfterTheGrace) {
  host_process host(serving_scripts({"--timeout", "1", "--kill-grace", "2"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    client::request_options options;
    options.params = request_params(host.script("ignores_term.sh"));
    auto request = co_await conn.begin(std::move(options));
    co_await request.end_stdin();
    std::string err;
    std::uint32_t app_status = 0;
    for (;;) {
      auto event = co_await request.next();
      if (event.type == client::output_event::kind::err) err += event.bytes;
      if (event.type == client::output_event::kind::end) {
        app_status = event.app_status;
        break;
      }
    }
    const auto answered = std::chrono::steady_clock::now();
    EXPECT_EQ(app_status, 408u);
    const pid_t pid = number_after(err, "pid");
    EXPECT_GT(pid, 0) << err;
    if (pid <= 0) co_return;
    // SIGTERM went at the 408: ignored, so still there well into the 2 s grace...
    std::this_thread::sleep_until(answered + std::chrono::milliseconds(1500));
    EXPECT_FALSE(process_gone(pid)) << "it should have ignored SIGTERM, and the grace is 2 s";
    // ...and SIGKILLed at its end.
    EXPECT_TRUE(wait_until_gone(pid, std::chrono::milliseconds(3000)));
  });
  EXPECT_EQ(wait_for_figure(host, "scripts.killed", 1), 1) << host.log();
  EXPECT_TRUE(no_zombie_children_within(host.process().pid(), std::chrono::seconds(2)));
}

TEST(HostScripts, AbortStopsTheScriptAndItsChildren) {
  host_process host(serving_scripts({"--timeout", "0"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    auto running = co_await start_grandchild(conn, host);
    co_await running.request.abort();
    std::uint32_t app_status = 0;
    co_await read_to_end(running.request, app_status);
    EXPECT_EQ(app_status, 499u);
    EXPECT_TRUE(wait_until_gone(running.script, std::chrono::milliseconds(2000)));
    EXPECT_TRUE(wait_until_gone(running.grandchild, std::chrono::milliseconds(2000)));
  });
  EXPECT_EQ(wait_for_figure(host, "scripts.stopped_by_term", 1), 1) << host.log();
}

TEST(HostScripts, ALostConnectionStopsTheScriptAndItsChildren) {
  host_process host(serving_scripts({"--timeout", "0"}));
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    auto running = co_await start_grandchild(conn, host);
    conn.close();
    EXPECT_TRUE(wait_until_gone(running.script, std::chrono::milliseconds(2000)));
    EXPECT_TRUE(wait_until_gone(running.grandchild, std::chrono::milliseconds(2000)));
  });
  EXPECT_EQ(wait_for_access(host, {.outcome = "connection_lost"}), 1u) << host.log();
  EXPECT_EQ(wait_for_figure(host, "scripts.stopped_by_term", 1), 1) << host.log();
}

TEST(HostScripts, StoppingTheHostStopsItsScripts) {
  host_process host(serving_scripts({"--timeout", "0", "--drain-timeout", "0.5"}));
  pid_t script = -1, grandchild = -1;
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    auto running = co_await start_grandchild(conn, host);
    script = running.script;
    grandchild = running.grandchild;
    host.process().signal(SIGTERM);
    try {
      std::uint32_t app_status = 0;
      co_await read_to_end(running.request, app_status);
    } catch (const std::exception&) {
      // The host may close the connection without an END_REQUEST as it exits.
    }
  });
  EXPECT_EQ(host.process().wait(std::chrono::seconds(10)), 0) << host.log();
  EXPECT_TRUE(wait_until_gone(script, std::chrono::milliseconds(2000)));
  EXPECT_TRUE(wait_until_gone(grandchild, std::chrono::milliseconds(2000)));
}

TEST(HostScripts, AThousandRequestsLeaveNoZombieAndNoDescriptor) {
  host_process host(serving_scripts());
  const pid_t pid = host.process().pid();
  run_async([&]() -> awaitable<void> {
    auto conn = co_await connection::connect(host.address());
    auto once = [&]() -> awaitable<void> {
      client::request_options options;
      options.params = request_params(host.script("hello.sh"));
      auto response = co_await conn.send(std::move(options));
      EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello from a shell script!\n");
    };
    co_await once();  // the first request opens what stays open (the connection)
    const std::size_t fds_before = open_fd_count(pid);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) co_await once();
    std::cout << "1000 hello.sh in a row: " << 1000 / seconds_since(start) << " requests/s\n";
    EXPECT_EQ(fds_settle_at(pid, fds_before), fds_before);  // the sweep for strays opens /proc a moment
    EXPECT_TRUE(no_zombie_children_within(pid, std::chrono::seconds(2)));
  }, std::chrono::seconds(120));
}

TEST(HostScripts, ManyScriptsAtOnceAllAnswerWhole) {
  // Concurrent launches and exits: each script's exit must be its own (a
  // spurious exit wake-up once sent SIGTERM to a live script).
  host_process host(serving_scripts());
  constexpr int connections = 16;
  constexpr int requests_each = 60;
  int answered = 0;
  run_async([&]() -> awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto one_connection = [&]() -> awaitable<void> {
      auto conn = co_await connection::connect(host.address());
      for (int i = 0; i < requests_each; ++i) {
        client::request_options options;
        options.params = request_params(host.script("hello.sh"));
        auto response = co_await conn.send(std::move(options));
        EXPECT_EQ(response.out, "Content-Type: text/plain\r\n\r\nHello from a shell script!\n");
        EXPECT_EQ(response.app_status, 0u);
        ++answered;
      }
    };
    auto executor = co_await asio::this_coro::executor;
    std::vector<std::future<void>> done;
    for (int c = 0; c < connections; ++c) done.push_back(asio::co_spawn(executor, one_connection(), asio::use_future));
    asio::steady_timer tick(executor);
    // This coroutine shares the thread with the connections: wait by polling.
    while (std::any_of(done.begin(), done.end(),
                       [](auto& f) { return f.wait_for(std::chrono::seconds(0)) != std::future_status::ready; })) {
      tick.expires_after(std::chrono::milliseconds(10));
      co_await tick.async_wait(asio::use_awaitable);
    }
    for (auto& f : done) f.get();
  }, std::chrono::seconds(120));
  EXPECT_EQ(answered, connections * requests_each);
  EXPECT_EQ(count_access(host, {.outcome = "failed"}), 0u) << host.log();
  EXPECT_TRUE(no_zombie_children_within(host.process().pid(), std::chrono::seconds(2)));
}

TEST(HostScripts, RlimitsStopCpuMemoryAndFileHogs) {
  temp_dir config_dir;
  // Per route: the CPU limit applies to the hog's route only.
  write_file(config_dir / "host.toml",
             "script-memory = \"64M\"\nscript-open-files = 16\n"
             "[[route]]\nprefix = \"/hog/\"\nscript = \"cpu_hog.sh\"\nscript-cpu-seconds = 1\n");
  host_process host(serving_scripts({"--config", (config_dir / "host.toml").string(), "--timeout", "20"}));
  const auto start = std::chrono::steady_clock::now();
  const auto cpu = run_async([&] { return fetch(host.address(), "/hog/spin"); });
  EXPECT_LT(seconds_since(start), 10.0) << "SIGXCPU should come after 1 s of CPU";
  EXPECT_EQ(cpu.app_status, 128u + SIGXCPU);
  EXPECT_EQ(wait_for_figure(host, "scripts.died_of_signal", 1), 1) << host.log();

  const auto memory = run_async([&] { return fetch(host.address(), host.script("memory_hog.pl")); });
  EXPECT_EQ(memory.out.find("allocated"), std::string::npos) << memory.out;
  EXPECT_NE(memory.err.find("Out of memory"), std::string::npos) << memory.err;

  const auto files = run_async([&] { return fetch(host.address(), host.script("open_files.pl")); });
  EXPECT_TRUE(files.out.starts_with("Content-Type: text/plain\r\n\r\nopened ")) << files.out;
  const int opened = std::stoi(files.out.substr(files.out.find("opened ") + 7));
  EXPECT_GT(opened, 0);
  EXPECT_LE(opened, 16 - 3);  // stdin, stdout and stderr count too
}

TEST(HostScripts, TheProcessLimitStopsAForkBomb) {
  // RLIMIT_NPROC counts the processes of the script's user and exempts root:
  // run the host as nobody when the tests run as root.
  host_options options = serving_scripts({"--script-processes", "24"});
  options.unprivileged = true;
  host_process host(options);
  const auto forked = run_async([&] { return fetch(host.address(), host.script("fork_many.pl")); });
  std::istringstream words(forked.out.substr(forked.out.find("\r\n\r\n") + 4));
  std::string started_label, failed_label;
  int started = -1, failed = -1;
  words >> started_label >> started >> failed_label >> failed;
  ASSERT_EQ(started_label, "started") << forked.out;
  EXPECT_LT(started, 40);
  EXPECT_GT(failed, 0);
  // The host, under the same user, still serves.
  const auto hello = run_async([&] { return fetch(host.address(), host.script("hello.sh")); });
  EXPECT_EQ(hello.out, "Content-Type: text/plain\r\n\r\nHello from a shell script!\n");
}

}  // namespace
}  // namespace fcgihost::test
