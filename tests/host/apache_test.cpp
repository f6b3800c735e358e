// fcgi-host behind a real Apache 2.4 (mod_proxy_fcgi), configured from
// examples/apache: a handler, a script with PATH_INFO, streamed uploads, the
// 408, stderr in Apache's error log, and FastCGI Authorizers (mod_authnz_fcgi).
#include <boost/json/src.hpp>
#include <gtest/gtest.h>

#include <optional>

#include "../support/apache_process.hpp"
#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/web_server_checks.hpp"
#include "../support/status_probe.hpp"

namespace fcgihost::test {
namespace {

// The host on TCP: Apache's children run as www-data, who cannot reach a
// socket in the test's private folder.
class BehindApache : public ::testing::Test {
 protected:
  BehindApache() {
    write_file(config_dir_ / "host.toml", authorizer_routes());
    host_options options =
        with_arguments({"--timeout", "1", "--kill-grace", "1", "--config", (config_dir_ / "host.toml").string()});
    options.plugins.push_back("authorizer");
    options.scripts = true;
    options.tcp = true;
    host_.emplace(options);
    const std::string address = host_->address();  // tcp:127.0.0.1:PORT
    apache_.emplace(FCGIHOST_APACHE_TEMPLATE,
                    std::map<std::string, std::string>{{"BACKEND", "fcgi://" + address.substr(4)},
                                                       {"AUTHORIZER", "fcgi://" + address.substr(4) + "/"},
                                                       {"SCRIPTS", host_->scripts_dir().string()}});
  }
  http_response get(const std::string& target) { return http_request(apache_->port(), "GET", target); }

  temp_dir config_dir_;
  std::optional<host_process> host_;
  std::optional<apache_process> apache_;
};

TEST_F(BehindApache, AHandler) {
  const auto response = get("/fn/hello.greet?apache");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.at("content-type"), "text/plain");
  EXPECT_EQ(response.body, "Hello, apache!\n");
  EXPECT_EQ(get("/fn/nope.greet").status, 404);
  EXPECT_EQ(get("/fn/echo.status?418").status, 418);
}

TEST_F(BehindApache, AScriptWithPathInfo) {
  expect_cgi_variables(get("/cgi/env.py/some/path?a=b"), "/cgi/env.py", host_->script("env.py"));
  EXPECT_EQ(get("/cgi/hello.sh").body, "Hello from a shell script!\n");
  EXPECT_EQ(get("/cgi/missing.sh").status, 404);
}

TEST_F(BehindApache, UploadsStreamToHandlersAndScripts) {
  expect_uploads_stream(
      [&](const std::string& target, const std::string& body) {
        return http_request(apache_->port(), "POST", target, body);
      },
      "/fn/echo.body", "/cgi/upload.pl");
}

TEST_F(BehindApache, TimeoutsAre408AndStderrReachesTheErrorLog) {
  const auto slow = get("/fn/slow.polite?30");
  EXPECT_EQ(slow.status, 408);
  EXPECT_NE(slow.body.find("did not finish within 1 s"), std::string::npos) << slow.body;
  EXPECT_EQ(get("/cgi/grandchild.sh").status, 408);
  EXPECT_TRUE(host_->wait_for_log("grandchild.sh (pid")) << host_->log();
  EXPECT_EQ(get("/cgi/stderr.pl").status, 200);
  // mod_proxy_fcgi logs FCGI_STDERR as AH01071 errors.
  const auto log = apache_->error_log();
  EXPECT_NE(log.find("AH01071: Got error 'stderr.pl: a warning for the error log"), std::string::npos) << log;
}

// The authorizer plugin lets Basic credentials ada:t0ken in (generic
// FastCGI Authorizer: one call for authentication and authorization); the
// script, an X-Api-Key header (as an Apache authenticator, check_user_id).
// What they pass on reaches the handler behind them.
// A response cut by the timeout after output started ends the client's
// transfer as incomplete under mod_proxy_fcgi's defaults too.
TEST_F(BehindApache, ACutResponseNeverLooksComplete) {
  const auto curl = run_program({FCGIHOST_CURL, "-sS", "--max-time", "20",
                                 "http://127.0.0.1:" + std::to_string(apache_->port()) + "/fn/slow.stream?30"});
  EXPECT_NE(curl.exit_code, 0) << "curl took the cut response for a whole one:\n" << curl.out;
  EXPECT_TRUE(curl.out.empty() || curl.out.starts_with("line 0\n")) << curl.out;
  EXPECT_EQ(get("/fn/hello.greet?again").status, 200);
}

TEST_F(BehindApache, FastCgiAuthorizersFromAPluginAndAScript) {
  const auto with = [&](const std::string& target, const std::map<std::string, std::string>& headers) {
    return http_request(apache_->port(), "GET", target, {}, headers);
  };
  EXPECT_EQ(get("/private/bearer/report").status, 401);
  EXPECT_EQ(with("/private/bearer/report", {{"Authorization", "Basic YWRhOmd1ZXNz"}}).status, 401);  // ada:guess
  const auto ada = with("/private/bearer/report", {{"Authorization", "Basic YWRhOnQwa2Vu"}});       // ada:t0ken
  EXPECT_EQ(ada.status, 200) << ada.body << host_->log() << apache_->error_log();
  EXPECT_NE(ada.body.find("AUTH_USER=ada\n"), std::string::npos) << ada.body;
  EXPECT_NE(ada.body.find("REMOTE_USER=ada\n"), std::string::npos) << ada.body;

  EXPECT_EQ(with("/private/apikey/data", {{"X-Api-Key", "nope"}}).status, 403);
  const auto keyed = with("/private/apikey/data", {{"X-Api-Key", "let-me-in"}});
  EXPECT_EQ(keyed.status, 200) << keyed.body;
  EXPECT_NE(keyed.body.find("API_CLIENT=script-checked\n"), std::string::npos) << keyed.body;
  EXPECT_NE(keyed.body.find("REMOTE_USER=script-checked\n"), std::string::npos) << keyed.body;
  EXPECT_GE(wait_for_access(*host_, {.runner = "script"}), 1u) << host_->log();
}

}  // namespace
}  // namespace fcgihost::test
