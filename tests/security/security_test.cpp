// The trust boundaries, attacked from outside (label "security"): nothing a
// web server's client, a script or a plugin sends changes what the host does
// beyond its own request. Each test names the class of attack it covers
// (docs/security.md lists them with the CVEs they come from).
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/src.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fcgihost/protocol/record.hpp>

#include "../support/host_process.hpp"
#include "../support/nginx_process.hpp"
#include "../support/run_async.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using client::connection;
using namespace std::chrono_literals;

// One request with the params given (and a body), on a new connection.
awaitable<client::response> ask(std::string address, protocol::name_value_list params, std::string body = {}) {
  auto conn = co_await connection::connect(address);
  client::request_options options;
  options.params = std::move(params);
  co_return co_await conn.send(std::move(options), body);
}

host_options with_config(const temp_dir& dir, const std::string& toml, std::vector<std::string> more = {}) {
  write_file(dir / "host.toml", toml);
  host_options options = with_arguments({"--config", (dir / "host.toml").string()});
  options.arguments.insert(options.arguments.end(), more.begin(), more.end());
  return options;
}

// The pid a crashing.ok response names.
pid_t pid_in(const std::string& out) {
  const auto at = out.find("ok from ");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::stol(out.substr(at + 8)));
}

std::string status_line_of(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with(field + ":")) return line;
  return {};
}

// --- The worker hop is the host's (a client picked a worker's handler) ---

// A route to echo.body, and a param that names another handler in the
// host's words for its workers: the route's handler runs, and no handler
// ever sees a param of the host's namespace.
TEST(WorkerHop, AClientCannotNameTheHandlerNorSpeakTheHostsWords) {
  for (const char* isolation : {"process", "none"}) {
    temp_dir dir;
    host_process host(with_config(dir, std::string("isolation = \"") + isolation +
                                           "\"\n[[route]]\nprefix = \"/public\"\nfunction = \"echo.body\"\n"));
    run_async([&]() -> awaitable<void> {
      auto params = request_params("/public/page", "", "POST");
      params.push_back({"FCGIHOST_WORKER_HANDLER", "params"});
      const auto routed = co_await ask(host.address(), params, "the body");
      EXPECT_EQ(routed.app_status, 0u) << isolation;
      EXPECT_TRUE(routed.out.ends_with("\r\n\r\nthe body")) << isolation << ": " << routed.out;

      // The same words first, then last, with others of the namespace.
      auto listed = request_params("echo.params");
      listed.insert(listed.begin(), {"FCGIHOST_WORKER_HANDLER", "body"});
      listed.push_back({"FCGIHOST_WORKER_HANDLER", "body"});
      listed.push_back({"FCGIHOST_HANDLERS", "x"});
      listed.push_back({"FCGIHOST_RUN_US", "1 1"});
      const auto params_seen = co_await ask(host.address(), listed);
      EXPECT_EQ(params_seen.app_status, 0u) << isolation;
      EXPECT_NE(params_seen.out.find("SCRIPT_FILENAME"), std::string::npos) << params_seen.out;
      EXPECT_EQ(params_seen.out.find("FCGIHOST_"), std::string::npos) << isolation << ": " << params_seen.out;
    });
  }
}

// --- Log lines (CVE-2024-9026's class) ---

const std::regex text_line_start(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [a-z]+ )");

// Requests whose method, URI and script name carry line breaks, a CR, an
// escape sequence, a C1 control and bytes that are not UTF-8; stderr_writer
// writes its REQUEST_URI to FCGI_STDERR, which the host logs too.
std::size_t send_hostile_requests(const host_process& host) {
  const std::string forged_text = "\n2026-01-01 00:00:00.000 info forged line";
  const std::string forged_json = "\n{\"time\":\"2026-01-01T00:00:00Z\",\"forged\":true}";
  std::size_t sent = 0;
  run_async([&]() -> awaitable<void> {
    for (const std::string& hostile : {forged_text, forged_json, std::string("\r\x1b[2J\x07\xc2\x9b\xff\xfe\x7f"),
                                       std::string("a\0b", 3)}) {
      for (const char* handler : {"hello.greet", "stderr_writer.warn"}) {
        auto found = request_params(handler);
        found[3].value = "/fn/x?" + hostile;  // REQUEST_URI
        found[2].value = "GET" + hostile;     // REQUEST_METHOD
        co_await ask(host.address(), found);
      }
      auto missing = request_params("/nowhere/x" + hostile + ".sh");
      missing[3].value = "/cgi/missing" + hostile;
      co_await ask(host.address(), missing);
      co_await ask(host.address(), request_params("nosuch" + hostile + ".handler"));
      sent += 4;
    }
  });
  return sent;
}

// Every line of the text log starts with the logger's own timestamp, and no
// control byte but the line breaks is in it.
void expect_only_host_made_lines(const std::string& log, bool json_too, std::size_t& json_lines) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    for (const char c : line) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_FALSE(byte < 0x20 || byte == 0x7F) << "a raw control byte " << int(byte) << " in: " << line;
    }
    EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos) << line;
    if (json_too && line.starts_with("{")) {
      boost::system::error_code ec;
      const auto value = boost::json::parse(line, ec);
      EXPECT_FALSE(ec) << line;
      if (!ec) {
        EXPECT_TRUE(value.is_object() && value.as_object().contains("outcome")) << line;
        EXPECT_FALSE(value.as_object().contains("forged")) << line;
      }
      ++json_lines;
      continue;
    }
    // The workers' lines and the host's, all made by the logger.
    EXPECT_TRUE(std::regex_search(line, text_line_start)) << "a line the host did not start: " << line;
  }
}

// The host's own access lines (a worker logs the requests it runs too).
std::size_t host_access_lines(const std::string& log) {
  static const std::regex access(R"(^\S+ \S+ info (?!worker \d+ \().* app_status=)");
  std::size_t count = 0;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) count += std::regex_search(line, access) ? 1 : 0;
  return count;
}

TEST(LogLines, NothingFromOutsideMakesALineOfItsOwnInTheTextLog) {
  host_process host(with_arguments({"--access-log-format", "text"}));
  const std::size_t sent = send_hostile_requests(host);
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (host_access_lines(host.log()) < sent && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(20ms);
  std::size_t json_lines = 0;
  const std::string log = host.log();
  expect_only_host_made_lines(log, false, json_lines);
  // Escaped, not dropped: what came in can still be read.
  EXPECT_NE(log.find("/cgi/missing\\x0a2026-01-01 00:00:00.000 info forged line"), std::string::npos) << log;
  EXPECT_NE(log.find("\\x0d\\x1b[2J\\x07\\xc2\\x9b\\xff\\xfe\\x7f"), std::string::npos) << log;
  EXPECT_EQ(host_access_lines(log), sent) << "one access line per request:\n" << log;
}

TEST(LogLines, EachRequestIsOneJsonObjectOnALineOfItsOwn) {
  host_process host(with_arguments({"--access-log-format", "json"}));
  const std::size_t sent = send_hostile_requests(host);
  ASSERT_EQ(wait_for_access(host, {}, sent), sent) << host.log();
  std::size_t json_lines = 0;
  expect_only_host_made_lines(host.log(), true, json_lines);
  EXPECT_EQ(json_lines, sent) << host.log();
}

// --- Scripts' environment (CVE-2016-5385 httpoxy; LD_PRELOAD, BASH_ENV) ---

std::set<std::string> names_in(const std::string& env_output) {
  std::set<std::string> names;
  std::istringstream lines(env_output.substr(env_output.find("\r\n\r\n") + 4));
  for (std::string line; std::getline(lines, line);)
    if (!line.starts_with("#") && line.find('=') != std::string::npos) names.insert(line.substr(0, line.find('=')));
  return names;
}

TEST(ScriptEnvironment, OnlyCgiVariablesHeadersAndConfiguredNamesReachAScript) {
  temp_dir dir;
  auto options = with_config(dir, "script-env = [\"API_CLIENT\"]\npass-env = [\"SITE_NAME\"]\n");
  options.scripts = true;
  options.environment = {"SITE_NAME=example", "OTHER_HOST_VARIABLE=x"};
  host_process host(options);
  // The environment exactly as the script got it (env.py's interpreter, a
  // pyenv shim on some machines, would add its own).
  write_file(host.scripts_dir() / "printenv.sh",
             "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nexec /usr/bin/env\n");
  ::chmod(host.script("printenv.sh").c_str(), 0755);
  run_async([&]() -> awaitable<void> {
    auto params = request_params(host.script("printenv.sh"), "a=b");
    for (const char* name : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "BASH_ENV", "ENV", "BASH_FUNC_env%%",
                             "BASH_FUNC_x()", "HTTP_PROXY", "PERL5OPT", "PYTHONSTARTUP", "NODE_OPTIONS", "SHELLOPTS",
                             "IFS", "FOO", "BAD-NAME", "OTHER_HOST_VARIABLE", "FCGIHOST_WORKER_HANDLER"})
      params.push_back({name, "/tmp/evil"});
    params.push_back({"API_CLIENT", "ok"});
    params.push_back({"HTTP_X_TOKEN", "t"});
    params.push_back({"HTTPS", "on"});
    params.push_back({"SERVER_NAME", "example.org"});
    const auto answer = co_await ask(host.address(), params);
    EXPECT_EQ(answer.app_status, 0u) << answer.err;
    const auto names = names_in(answer.out);
    for (const char* present : {"PATH", "SITE_NAME", "API_CLIENT", "HTTP_X_TOKEN", "HTTPS", "SERVER_NAME",
                                "QUERY_STRING", "REQUEST_METHOD", "SCRIPT_FILENAME", "GATEWAY_INTERFACE"})
      EXPECT_TRUE(names.contains(present)) << present << " missing from:\n" << answer.out;
    for (const auto& name : names) {
      const bool expected = name == "PATH" || name == "SITE_NAME" || name == "API_CLIENT" || name.starts_with("HTTP_") ||
                            name == "HTTPS" || name == "SERVER_NAME" || name == "QUERY_STRING" ||
                            name == "REQUEST_METHOD" || name == "REQUEST_URI" || name == "SCRIPT_FILENAME" ||
                            name == "GATEWAY_INTERFACE" || name == "PWD" || name == "OLDPWD" || name == "SHLVL" ||
                            name == "_";  // the last four: the shell's own
      EXPECT_TRUE(expected) << name << " reached the script:\n" << answer.out;
      EXPECT_NE(name, "HTTP_PROXY");
    }
  });
}

// Names that would run code are refused in the config, with the reason.
TEST(ScriptEnvironment, TheConfigCannotPassNamesThatRunCode) {
  for (const std::string setting : {"pass-env = [\"LD_PRELOAD\"]", "pass-env = [\"BASH_FUNC_x%%\"]",
                                     "pass-env = [\"BASH_ENV\"]", "script-env = [\"PERL5OPT\"]",
                                     "script-env = [\"BAD-NAME\"]", "script-env = [\"HTTP_PROXY\"]",
                                     "script-env = [\"LD_LIBRARY_PATH\"]"}) {
    temp_dir dir;
    write_file(dir / "host.toml", setting + "\n");
    const auto result = run_program({FCGIHOST_HOST_BIN, "--config", (dir / "host.toml").string(), "--listen",
                                     "unix:" + (dir / "s.sock").string()});
    EXPECT_NE(result.exit_code, 0) << setting;
    EXPECT_NE(result.err.find(setting.substr(0, setting.find(' '))), std::string::npos) << setting << ": " << result.err;
  }
}

// --- setuid in the scripts folder; no_new_privs ---

TEST(Privileges, SetuidFilesAreRefusedAndScriptsAndWorkersRunWithNoNewPrivs) {
  host_options options;
  options.scripts = true;
  options.plugins = {"crashing"};
  host_process host(options);
  std::filesystem::copy_file("/usr/bin/id", host.scripts_dir() / "id-setuid");
  ::chmod(host.script("id-setuid").c_str(), 04755);
  std::filesystem::copy_file("/usr/bin/id", host.scripts_dir() / "id-setgid");
  ::chmod(host.script("id-setgid").c_str(), 02755);
  write_file(host.scripts_dir() / "nnp.sh",
             "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ngrep NoNewPrivs /proc/self/status\n");
  ::chmod(host.script("nnp.sh").c_str(), 0755);
  run_async([&]() -> awaitable<void> {
    for (const char* name : {"id-setuid", "id-setgid"}) {
      const auto refused = co_await ask(host.address(), request_params(host.script(name)));
      EXPECT_EQ(refused.app_status, 403u) << name << ": " << refused.out;
      EXPECT_TRUE(refused.out.starts_with("Status: 403")) << refused.out;
    }
    const auto script = co_await ask(host.address(), request_params(host.script("nnp.sh")));
    EXPECT_NE(script.out.find("NoNewPrivs:\t1"), std::string::npos) << script.out;
    const auto worker = co_await ask(host.address(), request_params("crashing.ok"));
    const pid_t pid = pid_in(worker.out);
    EXPECT_NE(pid, 0) << worker.out;
    if (pid != 0) {
      EXPECT_EQ(status_line_of(pid, "NoNewPrivs"), "NoNewPrivs:\t1");
    }
  });
  EXPECT_TRUE(host.wait_for_log("is setuid or setgid")) << host.log();
}

// --- Header values (response splitting) ---

TEST(HeaderValues, ABareCrInAValueIsA502FromAScriptAndAHandler) {
  temp_dir dir;
  auto options = with_config(dir, "[[route]]\nprefix = \"/private\"\nscript = \"split_header.sh\"\n"
                                  "role = \"authorizer\"\n");
  options.scripts = true;
  options.plugins = {"misbehaving"};
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    for (const std::string& target : {host.script("split_header.sh"), std::string("misbehaving.split-header")}) {
      const auto answer = co_await ask(host.address(), request_params(target));
      EXPECT_EQ(answer.app_status, 502u) << target << ": " << answer.out;
      EXPECT_TRUE(answer.out.starts_with("Status: 502 Bad Gateway\r\n")) << answer.out;
      EXPECT_EQ(answer.out.find("evil"), std::string::npos) << answer.out;
      EXPECT_NE(answer.err.find("bare CR"), std::string::npos) << answer.err;
    }
    // An Authorizer's answer is headers only: the same check.
    auto conn = co_await connection::connect(host.address());
    client::request_options authorizer;
    authorizer.role = static_cast<std::uint16_t>(protocol::role::authorizer);
    authorizer.params = {{"REQUEST_URI", "/private/x"}, {"REQUEST_METHOD", "GET"}};
    const auto denied = co_await conn.send(std::move(authorizer));
    EXPECT_EQ(denied.app_status, 502u) << denied.out;
    EXPECT_EQ(denied.out.find("evil"), std::string::npos) << denied.out;
  });
}

// --- Exposure: port 9000 open to the world ---

// The host started with these, on a TCP port other machines could reach:
// whether it serves (logs that it listens) or exits, and its log.
struct exposure_outcome {
  bool serves = false;
  int exit_code = -1;
  std::string log;
};

exposure_outcome start_exposed(const std::string& address, std::vector<std::string> more,
                               std::vector<std::string> environment = {}) {
  temp_dir dir;
  std::vector<std::string> argv{FCGIHOST_HOST_BIN, "--listen", address};
  argv.insert(argv.end(), more.begin(), more.end());
  child_process host(argv, dir / "stdout", dir / "stderr", "/dev/null", std::move(environment));
  exposure_outcome outcome;
  const auto give_up = std::chrono::steady_clock::now() + 15s;
  while (std::chrono::steady_clock::now() < give_up) {
    outcome.log = read_file(dir / "stderr");
    if (outcome.log.find("fcgi-host listening on") != std::string::npos) {
      outcome.serves = true;
      return outcome;
    }
    if (!host.running()) break;
    std::this_thread::sleep_for(20ms);
  }
  outcome.exit_code = host.wait(5s);
  outcome.log = read_file(dir / "stderr");
  return outcome;
}

TEST(Exposure, ANonLoopbackListenerNeedsTheWebServersAddressesOrAnExplicitYes) {
  for (const char* address : {"tcp:0.0.0.0:0", "tcp:[::]:0"}) {
    const auto refused = start_exposed(address, {});
    EXPECT_FALSE(refused.serves) << address << ": " << refused.log;
    EXPECT_EQ(refused.exit_code, 1) << refused.log;
    EXPECT_NE(refused.log.find("FCGI_WEB_SERVER_ADDRS"), std::string::npos) << refused.log;
    EXPECT_NE(refused.log.find("allow-any-peer"), std::string::npos) << refused.log;
  }
  const auto listed = start_exposed("tcp:0.0.0.0:0", {}, {"FCGI_WEB_SERVER_ADDRS=127.0.0.1"});
  EXPECT_TRUE(listed.serves) << listed.log;
  const auto meant = start_exposed("tcp:0.0.0.0:0", {"--allow-any-peer", "true"});
  EXPECT_TRUE(meant.serves) << meant.log;
  EXPECT_NE(meant.log.find("accepts FastCGI from any machine"), std::string::npos) << meant.log;
  const auto loopback = start_exposed("tcp:127.0.0.1:0", {});
  EXPECT_TRUE(loopback.serves) << loopback.log;
  EXPECT_EQ(loopback.log.find("any machine"), std::string::npos) << loopback.log;
}

// --- CGI mode (CVE-2012-1823's class; httpoxy in plugins) ---

// fcgi-host run as a CGI program with `arguments` after its own and the
// request in `variables`: what it wrote on stdout.
std::string run_as_cgi(const temp_dir& dir, std::vector<std::string> arguments, std::vector<std::string> variables) {
  std::vector<std::string> argv{FCGIHOST_HOST_BIN, "--plugins", (dir / "plugins").string()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  variables.insert(variables.end(), {"GATEWAY_INTERFACE=CGI/1.1", "SERVER_PROTOCOL=HTTP/1.1", "REQUEST_METHOD=GET"});
  child_process cgi(argv, dir / "stdout", dir / "stderr", "/dev/null", std::move(variables));
  EXPECT_EQ(cgi.wait(20s), 0) << read_file(dir / "stderr");
  return read_file(dir / "stdout");
}

TEST(CgiMode, TheQuerysWordsAreNeverOptions) {
  temp_dir dir;
  std::filesystem::create_directories(dir / "plugins");
  std::filesystem::create_directories(dir / "elsewhere");
  const auto marker = dir / "ran";
  write_file(dir / "elsewhere" / "run.sh",
             "#!/bin/sh\ntouch " + marker.string() + "\nprintf 'Content-Type: text/plain\\r\\n\\r\\nran\\n'\n");
  ::chmod((dir / "elsewhere" / "run.sh").c_str(), 0755);
  const std::string elsewhere = (dir / "elsewhere").string();
  // Apache's mod_cgi: "?--scripts+DIR" becomes the arguments "--scripts" "DIR".
  const auto out = run_as_cgi(dir, {"--scripts", elsewhere},
                              {"QUERY_STRING=--scripts+" + elsewhere, "SCRIPT_FILENAME=" + elsewhere + "/run.sh"});
  EXPECT_FALSE(std::filesystem::exists(marker)) << out;
  EXPECT_TRUE(out.starts_with("Status: 404")) << out;
  EXPECT_NE(read_file(dir / "stderr").find("the query's words"), std::string::npos) << read_file(dir / "stderr");
}

TEST(CgiMode, WorkersNeverSeeTheRequestsVariablesInAnyMode) {
  temp_dir dir;
  std::filesystem::create_directories(dir / "plugins");
  std::filesystem::copy_file(std::filesystem::path(FCGIHOST_PLUGIN_BUILD_DIR) / "libmisbehaving.so",
                             dir / "plugins" / "libmisbehaving.so");
  // httpoxy: a client's "Proxy:" header is HTTP_PROXY in a CGI program's environment.
  const auto out = run_as_cgi(dir, {}, {"HTTP_PROXY=http://evil.example:8080", "QUERY_STRING=HTTP_PROXY",
                                        "SCRIPT_FILENAME=misbehaving.environment"});
  EXPECT_TRUE(out.ends_with("\r\n\r\n(unset)")) << out;

  host_options options;
  options.plugins = {"misbehaving"};
  options.environment = {"HTTP_PROXY=http://evil.example:8080", "KEPT_FOR_PLUGINS=yes"};
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    const auto proxy = co_await ask(host.address(), request_params("misbehaving.environment", "HTTP_PROXY"));
    EXPECT_TRUE(proxy.out.ends_with("\r\n\r\n(unset)")) << proxy.out;
    // The operator's own variables still reach plugins (LD_LIBRARY_PATH, TZ...).
    const auto kept = co_await ask(host.address(), request_params("misbehaving.environment", "KEPT_FOR_PLUGINS"));
    EXPECT_TRUE(kept.out.ends_with("\r\n\r\nyes")) << kept.out;
  });
}

// --- Signals meant for the host (pkill -HUP fcgi-host) ---

TEST(Workers, SignalsMeantForTheHostLeaveWorkersServing) {
  host_options options;
  options.plugins = {"crashing", "slow_init"};
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    const pid_t worker = pid_in((co_await ask(host.address(), request_params("crashing.ok"))).out);
    EXPECT_NE(worker, 0);
    if (worker == 0) co_return;
    for (const int signal : {SIGHUP, SIGTERM, SIGINT, SIGUSR2}) EXPECT_EQ(::kill(worker, signal), 0);
    const auto again = co_await ask(host.address(), request_params("crashing.ok"));
    EXPECT_EQ(pid_in(again.out), worker) << again.out << host.log();
  });
  // A worker loading its plugin (2 s of static initialisers) gets a HUP: the
  // plugin loads and serves, and is not marked as one that cannot load.
  std::thread hangup([&] {
    static const std::regex started("worker ([0-9]+) started for plugin slow_init");
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    std::smatch found;
    std::string log;
    while (std::chrono::steady_clock::now() < give_up && !std::regex_search(log = host.log(), found, started))
      std::this_thread::sleep_for(10ms);
    if (!found.empty()) ::kill(static_cast<pid_t>(std::stol(found[1].str())), SIGHUP);
  });
  run_async([&]() -> awaitable<void> {
    const auto ready = co_await ask(host.address(), request_params("slow_init.ready"));
    EXPECT_EQ(ready.app_status, 0u) << ready.out << ready.err;
    EXPECT_NE(ready.out.find("ready"), std::string::npos) << ready.out;
  });
  hangup.join();
}

// --- Worker reports are untrusted (CVE-2021-21703's class) ---

// A worker's crash report names a FIFO as the file its frames lie in: the
// host never opens it (it would block for ever), the crash is a 502, the
// next crash still gets its backtrace, and the host stops when told.
TEST(WorkerReports, AForgedCrashReportCannotWedgeTheHost) {
  temp_dir dir;
  const auto fifo = dir / "symbols.so";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0666), 0);
  host_options options = with_arguments({"--timeout", "5"});
  options.plugins = {"crashing"};
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    for (const auto& named : {fifo.string(), std::string("/dev/zero"), std::string("/etc/shadow")}) {
      const auto forged = co_await ask(host.address(), request_params("crashing.forged-report", named));
      EXPECT_EQ(forged.app_status, 502u) << named << ": " << forged.out;
    }
    const auto real = co_await ask(host.address(), request_params("crashing.segfault"));
    EXPECT_EQ(real.app_status, 502u) << real.out;
    EXPECT_NE(real.err.find("write_through_null"), std::string::npos) << real.err;
  });
  host.process().signal(SIGTERM);
  EXPECT_EQ(host.process().wait(10s), 0) << host.log();
}

// --- Nothing outlives its worker or its host ---

pid_t pid_answered(const client::response& answer) {
  const auto body = answer.out.find("\r\n\r\n");
  return body == std::string::npos ? 0 : static_cast<pid_t>(std::atol(answer.out.c_str() + body + 4));
}

// A handler's forked child and its daemon (setsid, its parent gone) end
// when their worker does (here: killed), and when the host stops.
TEST(LeftBehind, AHandlersChildrenEndWithTheirWorkerAndWithTheHost) {
  for (const bool kill_the_worker : {true, false}) {
    host_options options;
    options.plugins = {"misbehaving"};
    host_process host(options);
    pid_t forked = 0, daemon = 0, worker = 0;
    run_async([&]() -> awaitable<void> {
      const auto first = co_await ask(host.address(), request_params("misbehaving.leave-child", "fork"));
      forked = pid_answered(first);
      daemon = pid_answered(co_await ask(host.address(), request_params("misbehaving.leave-child", "daemon")));
    });
    ASSERT_GT(forked, 0);
    ASSERT_GT(daemon, 0);
    worker = std::atoi(status_line_of(forked, "PPid").substr(5).c_str());  // the forked child's parent
    ASSERT_GT(worker, 0);
    EXPECT_FALSE(process_gone(forked));
    if (kill_the_worker) {
      ::kill(worker, SIGKILL);
      EXPECT_TRUE(wait_until_gone(forked, 5000ms)) << "the forked child outlived its worker";
      EXPECT_TRUE(wait_until_gone(daemon, 5000ms)) << "the daemon outlived its worker";
    } else {
      host.process().signal(SIGTERM);
      EXPECT_EQ(host.process().wait(15s), 0) << host.log();
      EXPECT_TRUE(wait_until_gone(forked, 2000ms)) << "the forked child outlived the host";
      EXPECT_TRUE(wait_until_gone(daemon, 2000ms)) << "the daemon outlived the host";
    }
    ::kill(forked, SIGKILL);  // whatever happened, nothing is left for the next test
    ::kill(daemon, SIGKILL);
  }
}

// --- Amplification: status pages while huge requests are in flight ---

// 300 requests with 200 KB URIs in flight (60 MB of params), and 16 full
// JSON status pages asked at once: each page lists 256 requests at most,
// each URI cut to 512 bytes, and the host's memory stays near what the
// requests themselves hold (the pages took gigabytes when they copied
// every URI whole).
TEST(StatusPages, HaveAMemoryBoundWhateverIsInFlight) {
  if (!memory_is_measurable()) GTEST_SKIP() << "RSS is meaningless under AddressSanitizer";
  host_process host(with_arguments({"--status-path", "/status", "--isolation", "none", "--timeout", "60"}));
  constexpr std::size_t in_flight = 300, connections = 10, pages = 16;
  const std::string huge_uri = "/slow?" + std::string(200 * 1024, 'u');
  std::vector<std::string> bodies;
  const protocol::name_value_list status_params{{"SCRIPT_NAME", "/status"}, {"QUERY_STRING", "json"}};
  const protocol::name_value_list full_page_params{{"SCRIPT_NAME", "/status"}, {"SCRIPT_FILENAME", "/status"},
                                                   {"QUERY_STRING", "json&full"}, {"REQUEST_METHOD", "GET"}};
  run_async([&]() -> awaitable<void> {
    std::vector<connection> held;
    std::vector<client::exchange> requests;
    for (std::size_t c = 0; c < connections; ++c) {
      held.push_back(co_await connection::connect(host.address()));
      held.back().set_max_in_flight(in_flight / connections);
      for (std::size_t i = 0; i < in_flight / connections; ++i) {
        client::request_options slow;
        slow.params = request_params("slow.polite", "60");
        slow.params[3].value = huge_uri;
        requests.push_back(co_await held.back().begin(std::move(slow)));
        co_await requests.back().end_stdin();
      }
    }
    // Every one has started (its params are whole) before the pages are asked.
    const auto running_now = [&]() -> awaitable<std::int64_t> {
      const auto page = co_await ask(host.address(), status_params);
      boost::system::error_code ec;
      const auto value = boost::json::parse(page.out.substr(page.out.find("\r\n\r\n") + 4), ec);
      co_return ec ? 0 : value.at("requests").at("in_flight").as_int64();
    };
    for (int tries = 0; tries < 1000 && co_await running_now() < static_cast<std::int64_t>(in_flight); ++tries)
      co_await asio::steady_timer(co_await asio::this_coro::executor, 10ms).async_wait(asio::use_awaitable);
    auto pages_conn = co_await connection::connect(host.address());
    pages_conn.set_max_in_flight(pages);
    std::vector<client::exchange> asked;
    for (std::size_t i = 0; i < pages; ++i) {
      client::request_options page;
      page.params = full_page_params;
      asked.push_back(co_await pages_conn.begin(std::move(page)));
      co_await asked.back().end_stdin();
    }
    for (auto& page : asked) {
      std::uint32_t status = 0;
      bodies.push_back(co_await read_to_end(page, status));
    }
  });
  ASSERT_EQ(bodies.size(), pages);
  for (const auto& page : bodies) {
    boost::system::error_code ec;
    const auto value = boost::json::parse(page.substr(page.find("\r\n\r\n") + 4), ec);
    ASSERT_FALSE(ec) << page.substr(0, 300);
    const auto& listed = value.at("requests_in_flight").as_array();
    EXPECT_LE(listed.size(), 256u);
    EXPECT_GE(listed.size() + value.at("requests_not_listed").as_int64(), in_flight);
    for (const auto& request : listed) EXPECT_LE(request.at("uri").as_string().size(), 515u);
  }
  // The requests' own params are 60 MB; the pages must not multiply them.
  EXPECT_LT(host.peak_rss_kib(), 300u * 1024) << "peak RSS " << host.peak_rss_kib() << " KiB";
}

// --- A cut response never looks whole, under nginx's defaults too ---

// nginx with fastcgi_keep_conn off (its default) takes the host closing its
// connection as the normal end of a response: a timeout after output had
// started reached curl as a whole, short body (exit 0). The host writes an
// invalid record before it closes, which nginx takes as an upstream error.
TEST(CutResponses, AreIncompleteForTheClientBehindNginxDefaults) {
  host_process host(with_arguments({"--timeout", "1"}));
  nginx_process nginx(host.socket_path(), "/nonexistent", 0, FCGIHOST_NGINX_MINIMAL_TEMPLATE);
  // nginx buffers the body (fastcgi_buffering on): the client gets the
  // headers and what was buffered, or nothing, then an error, never an end.
  for (const char* http : {"--http1.1", "--http1.0"}) {
    const auto curl = run_program({FCGIHOST_CURL, "-sS", http, "--max-time", "20", "--unix-socket",
                                   nginx.http_socket().string(), "http://localhost/fn/slow.stream?30"});
    EXPECT_NE(curl.exit_code, 0) << http << ": curl took the cut response for a whole one:\n" << curl.out;
    EXPECT_TRUE(curl.out.empty() || curl.out.starts_with("line 0\n")) << http << ": " << curl.out;
  }
  EXPECT_NE(nginx.error_log().find("upstream sent unsupported FastCGI protocol version: 0"), std::string::npos)
      << nginx.error_log();
  // A response that was whole is still whole.
  const auto whole = run_program({FCGIHOST_CURL, "-sS", "--unix-socket", nginx.http_socket().string(),
                                  "http://localhost/fn/hello.greet?again"});
  EXPECT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(whole.out, "Hello, again!\n");
}

// --- A script that closes its stdout has answered ---

// The CGI idiom "answer, close stdout, go on working": the response ends at
// stdout's end (END_REQUEST, app status 0, outcome "answered"), the script
// keeps its request's slot while it runs on, its stderr goes to the log, and
// it ends at its own exit or, past the deadline, with its process group.
TEST(AnsweredScripts, EndTheResponseAtStdoutsEndAndRunOnWithinTheDeadline) {
  host_options options = with_arguments({"--timeout", "3", "--kill-grace", "1", "--access-log-format", "json"});
  options.scripts = true;
  host_process host(options);
  const auto write_script = [&](const std::string& name, const std::string& then) {
    write_file(host.scripts_dir() / name, "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nanswered\\n'\n"
                                          "exec 1>&-\necho \"pid $$\" >&2\n" + then);
    ::chmod(host.script(name).c_str(), 0755);
  };
  write_script("answer_then_work.sh", "sleep 1\necho 'late news' >&2\nexit 3\n");
  write_script("answer_then_hang.sh", "exec sleep 600\n");
  const protocol::name_value_list status_params{{"SCRIPT_NAME", "/status"}, {"QUERY_STRING", "json"}};
  run_async([&]() -> awaitable<void> {
    for (const char* name : {"answer_then_work.sh", "answer_then_hang.sh"}) {
      const auto start = std::chrono::steady_clock::now();
      const auto answer = co_await ask(host.address(), request_params(host.script(name)));
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      EXPECT_EQ(answer.out, "Content-Type: text/plain\r\n\r\nanswered\n") << name;
      EXPECT_EQ(answer.app_status, 0u) << name;
      EXPECT_LT(took, 0.9) << name << ": the answer waited for the script's exit";
    }
  });
  // One answer per request, as the access line says it: answered, not done.
  ASSERT_EQ(wait_for_access(host, {.outcome = "answered"}, 2), 2u) << host.log();
  // The one that works on ends by itself (exit 3), its late stderr in the log.
  EXPECT_TRUE(host.wait_for_log("after its answer: stderr: late news")) << host.log();
  EXPECT_TRUE(host.wait_for_log("after its answer: exited with status 3")) << host.log();
  // The one that hangs is stopped with its group at the deadline (3 s).
  EXPECT_TRUE(host.wait_for_log("ran on past its request's deadline")) << host.log();
  EXPECT_TRUE(no_zombie_children_within(host.process().pid(), 5000ms));
  EXPECT_TRUE(live_children(host.process().pid()).empty());
}

// While it runs on, an answered script holds its request's slot: with
// max-requests 1, the next request is refused until it ends.
TEST(AnsweredScripts, KeepTheirSlotUntilTheyEnd) {
  host_options options = with_arguments({"--timeout", "2", "--max-requests", "1"});
  options.scripts = true;
  host_process host(options);
  write_file(host.scripts_dir() / "answer_then_sleep.sh",
             "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\nanswered\\n'\nexec 1>&-\nsleep 1\n");
  ::chmod(host.script("answer_then_sleep.sh").c_str(), 0755);
  run_async([&]() -> awaitable<void> {
    const auto answer = co_await ask(host.address(), request_params(host.script("answer_then_sleep.sh")));
    EXPECT_EQ(answer.app_status, 0u);
    const auto refused = co_await ask(host.address(), request_params("hello.greet"));
    EXPECT_EQ(refused.protocol_status, static_cast<std::uint8_t>(protocol::protocol_status::overloaded));
  });
  EXPECT_TRUE(host.wait_for_log("after its answer: exited with status 0")) << host.log();
  run_async([&]() -> awaitable<void> {
    const auto served = co_await ask(host.address(), request_params("hello.greet"));
    EXPECT_EQ(served.app_status, 0u) << served.out;
  });
}

// A worker killed from outside while it loads its plugin (the OOM killer,
// `kill -9`) is not the plugin's fault: another worker starts, the request
// is served, and the plugin is not refused until its file changes.
TEST(Workers, OneKilledFromOutsideWhileLoadingDoesNotMakeThePluginUnloadable) {
  host_options options;
  options.plugins = {"slow_init"};
  host_process host(options);
  std::thread killer([&] {
    static const std::regex started("worker ([0-9]+) started for plugin slow_init");
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    // The first worker is the one loading: its pid is the host's child.
    while (std::chrono::steady_clock::now() < give_up) {
      const auto children = live_children(host.process().pid());
      if (!children.empty()) {
        ::kill(children.front(), SIGKILL);
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  run_async([&]() -> awaitable<void> {
    const auto ready = co_await ask(host.address(), request_params("slow_init.ready"));
    EXPECT_EQ(ready.app_status, 0u) << ready.out << ready.err;
    EXPECT_NE(ready.out.find("ready"), std::string::npos) << ready.out;
    const auto again = co_await ask(host.address(), request_params("slow_init.ready"));
    EXPECT_EQ(again.app_status, 0u) << again.out << again.err;
  });
  killer.join();
  EXPECT_TRUE(host.wait_for_log("while loading it (a signal the host did not send)")) << host.log();
  EXPECT_EQ(figure(host, "plugins.load_failures"), 0) << host.log();
}

// --- A handler that overflows its stack: reported with its backtrace ---

TEST(Crashes, AStackOverflowIsA502WithTheBacktrace) {
  host_options options;
  options.plugins = {"crashing"};
  host_process host(options);
  run_async([&]() -> awaitable<void> {
    const auto crashed = co_await ask(host.address(), request_params("crashing.overflow"));
    EXPECT_EQ(crashed.app_status, 502u) << crashed.out;
    EXPECT_NE(crashed.err.find("SIGSEGV"), std::string::npos) << crashed.err;
    EXPECT_NE(crashed.err.find("recurse_deeply"), std::string::npos) << crashed.err;
  });
}

}  // namespace
}  // namespace fcgihost::test
