// fcgi-host behind a real Apache 2.4 (mod_proxy_fcgi), configured from
// examples/apache: a handler, a script with PATH_INFO, streamed uploads, the
// 408, and stderr in Apache's error log.
#include <gtest/gtest.h>

#include <optional>

#include "../support/apache_process.hpp"
#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/nginx_process.hpp"
#include "../support/web_server_checks.hpp"

namespace fcgihost::test {
namespace {

// The host on TCP: Apache's children run as www-data, who cannot reach a
// socket in the test's private folder.
class BehindApache : public ::testing::Test {
 protected:
  BehindApache() {
    host_options options = with_arguments({"--timeout", "1", "--kill-grace", "1"});
    options.scripts = true;
    options.tcp = true;
    host_.emplace(options);
    const std::string address = host_->address();  // tcp:127.0.0.1:PORT
    apache_.emplace(FCGIHOST_APACHE_TEMPLATE,
                    std::map<std::string, std::string>{{"BACKEND", "fcgi://" + address.substr(4)},
                                                       {"SCRIPTS", host_->scripts_dir().string()}});
  }
  http_response get(const std::string& target) { return http_request(apache_->port(), "GET", target); }

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

}  // namespace
}  // namespace fcgihost::test
