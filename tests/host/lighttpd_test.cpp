// fcgi-host behind a real lighttpd 1.4 (mod_fastcgi), both ways it is used,
// configured from examples/lighttpd: connecting to a running host's socket,
// and starting the hosts itself (bin-path: the socket on fd 0, max-procs,
// bin-environment). Handlers through [[route]]s, scripts with PATH_INFO, a
// streamed upload, the 408, and stderr in lighttpd's error log.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/lighttpd_process.hpp"
#include "../support/run_async.hpp"
#include "../support/web_server_checks.hpp"

namespace fcgihost::test {
namespace {

// lighttpd sends SCRIPT_FILENAME DOCROOT + path: these routes map its /fn/
// paths to handlers (and one to a script).
std::string routes_under(const std::filesystem::path& docroot) {
  const auto route = [&](const std::string& path, const std::string& target) {
    return "[[route]]\nprefix = \"" + (docroot / "fn" / path).string() + "\"\n" + target + "\n";
  };
  return route("hello", "function = \"hello.greet\"") + route("echo", "function = \"echo.body\"") +
         route("slow", "function = \"slow.polite\"") + route("stderr", "function = \"stderr_writer.warn\"") +
         route("stream", "function = \"slow.stream\"") +
         route("env", "script = \"env.py\"");
}

// A running host; lighttpd connects to its socket. DOCROOT/cgi is the host's
// scripts folder, so that lighttpd finds the script file and splits PATH_INFO.
class BehindLighttpd : public ::testing::Test {
 protected:
  BehindLighttpd() {
    write_file(docroot_ / "host.toml", routes_under(docroot_.path()) + authorizer_routes());
    host_options options = with_arguments({"--timeout", "1", "--kill-grace", "1", "--config",
                                           (docroot_ / "host.toml").string()});
    options.plugins.push_back("authorizer");
    options.scripts = true;
    host_.emplace(options);
    std::filesystem::create_directory_symlink(host_->scripts_dir(), docroot_ / "cgi");
    lighttpd_.emplace(FCGIHOST_LIGHTTPD_TEMPLATE, std::map<std::string, std::string>{
                                                      {"DOCROOT", docroot_.path().string()},
                                                      {"HOST_SOCKET", host_->socket_path().string()}});
  }
  http_response get(const std::string& target) { return http_request(lighttpd_->http_socket(), "GET", target); }

  temp_dir docroot_;
  std::optional<host_process> host_;
  std::optional<lighttpd_process> lighttpd_;
};

TEST_F(BehindLighttpd, AHandlerThroughARoute) {
  const auto response = get("/fn/hello?lighttpd");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.at("content-type"), "text/plain");
  EXPECT_EQ(response.body, "Hello, lighttpd!\n");
  // No route: an absolute SCRIPT_FILENAME outside the scripts folder, never run.
  EXPECT_EQ(get("/fn/nothing-routed-here").status, 403);
}

TEST_F(BehindLighttpd, AScriptWithPathInfo) {
  expect_cgi_variables(get("/cgi/env.py/some/path?a=b"), "/cgi/env.py", (docroot_ / "cgi" / "env.py").string());
  const auto hello = get("/cgi/hello.sh");
  EXPECT_EQ(hello.body, "Hello from a shell script!\n");
}

TEST_F(BehindLighttpd, UploadsStreamToHandlersAndScripts) {
  expect_uploads_stream(
      [&](const std::string& target, const std::string& body) {
        return http_request(lighttpd_->http_socket(), "POST", target, body);
      },
      "/fn/echo", "/cgi/upload.pl");
}

TEST_F(BehindLighttpd, TimeoutsAre408AndStderrReachesTheErrorLog) {
  const auto slow = get("/fn/slow?30");
  EXPECT_EQ(slow.status, 408);
  EXPECT_NE(slow.body.find("did not finish within 1 s"), std::string::npos) << slow.body;
  EXPECT_EQ(get("/cgi/grandchild.sh").status, 408);
  EXPECT_TRUE(host_->wait_for_log("grandchild.sh (pid")) << host_->log();
  EXPECT_EQ(get("/cgi/stderr.pl").status, 200);
  EXPECT_EQ(get("/fn/stderr").status, 200);
  // lighttpd writes each FCGI_STDERR line to its error log.
  const auto log = lighttpd_->error_log();
  EXPECT_NE(log.find("FastCGI-stderr:stderr.pl: a warning for the error log"), std::string::npos) << log;
}

// "mode" => "authorizer": the authorizer plugin (a bearer token) and script
// (an X-Api-Key) let requests through to what lighttpd serves itself, a file
// and a CGI program, which gets the authorizer's Variable- values.
// A response cut by the timeout after output started ends the client's
// transfer as incomplete (the host's invalid record before its close is an
// upstream error for lighttpd), never as a short, whole-looking body.
TEST_F(BehindLighttpd, ACutResponseNeverLooksComplete) {
  const auto curl = run_program({FCGIHOST_CURL, "-sS", "--max-time", "20", "--unix-socket",
                                 lighttpd_->http_socket().string(), "http://localhost/fn/stream?30"});
  EXPECT_NE(curl.exit_code, 0) << "curl took the cut response for a whole one:\n" << curl.out;
  EXPECT_TRUE(curl.out.empty() || curl.out.starts_with("line 0\n")) << curl.out;
  EXPECT_EQ(get("/fn/hello?again").status, 200);
}

TEST_F(BehindLighttpd, FastCgiAuthorizersFromAPluginAndAScript) {
  for (const char* area : {"bearer", "apikey"}) {
    std::filesystem::create_directories(docroot_ / "private" / area);
    write_file(docroot_ / "private" / area / "secret.txt", "the secret\n");
    write_file(docroot_ / "private" / area / "whoami.sh",
               "printf 'Content-Type: text/plain\\r\\n\\r\\n'\necho \"user=$AUTH_USER client=$API_CLIENT\"\n");
  }
  const auto with = [&](const std::string& target, const http_headers& headers) {
    return http_request(lighttpd_->http_socket(), "GET", target, {}, headers);
  };
  const auto anonymous = get("/private/bearer/secret.txt");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.at("www-authenticate"), "Bearer");
  EXPECT_EQ(with("/private/bearer/secret.txt", {{"Authorization", "Bearer guess"}}).status, 401);
  EXPECT_EQ(with("/private/bearer/secret.txt", {{"Authorization", "Bearer t0ken"}}).body, "the secret\n");
  EXPECT_EQ(with("/private/bearer/whoami.sh", {{"Authorization", "Bearer t0ken"}}).body, "user=ada client=\n");

  EXPECT_EQ(get("/private/apikey/secret.txt").status, 403);
  EXPECT_EQ(with("/private/apikey/secret.txt", {{"X-Api-Key", "let-me-in"}}).body, "the secret\n");
  EXPECT_EQ(with("/private/apikey/whoami.sh", {{"X-Api-Key", "let-me-in"}}).body, "user= client=script-checked\n");
  // No authorizer route for this area: denied.
  std::filesystem::create_directories(docroot_ / "private" / "other");
  write_file(docroot_ / "private" / "other" / "secret.txt", "the secret\n");
  EXPECT_EQ(with("/private/other/secret.txt", {{"Authorization", "Bearer t0ken"}}).status, 403);
}

// lighttpd starts the hosts itself (bin-path), two of them (max-procs), each
// with the listening socket it made as fd 0, and its bin-environment; when
// lighttpd stops, so do they.
TEST(LighttpdSpawnsTheHosts, ServesAndStopsWithIt) {
  temp_dir docroot;
  write_file(docroot / "host.toml", "plugins = \"" + std::string(FCGIHOST_PLUGIN_BUILD_DIR) + "\"\nscripts = \"" +
                                        std::string(FCGIHOST_EXAMPLE_SCRIPTS) +
                                        "\"\npass-env = [\"SITE_NAME\"]\ntimeout = 1\n" +
                                        routes_under(docroot.path()));
  lighttpd_process lighttpd(FCGIHOST_LIGHTTPD_SPAWNED_TEMPLATE,
                            {{"DOCROOT", docroot.path().string()},
                             {"HOST_BINARY", FCGIHOST_HOST_BIN},
                             {"HOST_CONFIG", (docroot / "host.toml").string()}});
  const auto get = [&](const std::string& target) { return http_request(lighttpd.http_socket(), "GET", target); };
  EXPECT_EQ(get("/fn/hello?spawned").body, "Hello, spawned!\n");
  const auto env = get("/fn/env/x?a=b");
  EXPECT_NE(env.body.find("\nSITE_NAME=spawned-by-lighttpd\n"), std::string::npos) << env.body;
  EXPECT_NE(env.body.find("\nPATH_INFO=/x\n"), std::string::npos) << env.body;
  EXPECT_EQ(get("/fn/slow?30").status, 408);
  const std::string body = patterned_bytes(1024 * 1024 + 3);
  EXPECT_EQ(crc32_hex(http_request(lighttpd.http_socket(), "POST", "/fn/echo", body).body), crc32_hex(body));

  const auto hosts = live_children(lighttpd.process().pid());
  EXPECT_EQ(hosts.size(), 2u) << "max-procs is 2";
  for (const pid_t host : hosts) {
    const auto command_line = read_file("/proc/" + std::to_string(host) + "/cmdline");
    EXPECT_NE(command_line.find("fcgi-host"), std::string::npos) << command_line;
  }
  lighttpd.process().signal(SIGTERM);
  for (const pid_t host : hosts) EXPECT_TRUE(wait_until_gone(host, std::chrono::seconds(15))) << host;
}

// mod_cgi runs fcgi-host as a plain CGI program, once per request: the same
// handler and script answer the same bytes as in FastCGI mode, a body
// streams in, the timeout is a 408, and no process is left.
TEST(LighttpdRunsTheHostAsACgiProgram, OneRequestEachAnsweredAsInFastCgiMode) {
  temp_dir docroot;
  const auto bin = docroot / "cgi-bin";
  std::filesystem::create_directory(bin);
  write_file(docroot / "host.toml",
             "plugins = \"" + std::string(FCGIHOST_PLUGIN_BUILD_DIR) + "\"\nscripts = \"" +
                 std::string(FCGIHOST_EXAMPLE_SCRIPTS) + "\"\ntimeout = 1\nkill-grace = 1\n" +
                 "[[route]]\nprefix = \"" + (bin / "hello.cgi").string() + "\"\nfunction = \"hello.greet\"\n" +
                 "[[route]]\nprefix = \"" + (bin / "echo.cgi").string() + "\"\nfunction = \"echo.body\"\n" +
                 "[[route]]\nprefix = \"" + (bin / "slow.cgi").string() + "\"\nfunction = \"slow.polite\"\n" +
                 "[[route]]\nprefix = \"" + (bin / "hello-sh.cgi").string() + "\"\nscript = \"hello.sh\"\n");
  for (const char* name : {"hello.cgi", "echo.cgi", "slow.cgi", "hello-sh.cgi"}) {
    write_file(bin / name, "#!/bin/sh\nexec " + std::string(FCGIHOST_HOST_BIN) + " --config " +
                               (docroot / "host.toml").string() + "\n");
    std::filesystem::permissions(bin / name, std::filesystem::perms::owner_all);
  }
  lighttpd_process lighttpd(FCGIHOST_LIGHTTPD_CGI_TEMPLATE, {{"DOCROOT", docroot.path().string()}});
  const auto get = [&](const std::string& target) { return http_request(lighttpd.http_socket(), "GET", target); };

  // The same requests to a host in FastCGI mode.
  host_options fastcgi_options = with_arguments({"--timeout", "1"});
  fastcgi_options.scripts = true;
  host_process fastcgi(fastcgi_options);
  const auto body_of = [](const client::response& r) { return r.out.substr(r.out.find("\r\n\r\n") + 4); };
  const auto hello = get("/cgi-bin/hello.cgi?cgi");
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.headers.at("content-type"), "text/plain");
  EXPECT_EQ(hello.body, body_of(run_async([&] { return fetch(fastcgi.address(), "hello.greet", "cgi"); })));
  EXPECT_EQ(hello.body, "Hello, cgi!\n");
  const auto script = get("/cgi-bin/hello-sh.cgi");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.body, body_of(run_async([&] { return fetch(fastcgi.address(), fastcgi.script("hello.sh")); })));

  const std::string upload = patterned_bytes(1024 * 1024 + 3);
  const auto echoed = http_request(lighttpd.http_socket(), "POST", "/cgi-bin/echo.cgi", upload);
  EXPECT_EQ(echoed.status, 200);
  EXPECT_EQ(crc32_hex(echoed.body), crc32_hex(upload));

  const auto start = std::chrono::steady_clock::now();
  const auto slow = get("/cgi-bin/slow.cgi?30");
  EXPECT_EQ(slow.status, 408);
  EXPECT_NE(slow.body.find("did not finish within 1 s"), std::string::npos) << slow.body;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  // Each request's host (and its worker) has exited.
  for (int tries = 0; tries < 200 && !live_children(lighttpd.process().pid()).empty(); ++tries)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(live_children(lighttpd.process().pid()).empty());
}

}  // namespace
}  // namespace fcgihost::test
