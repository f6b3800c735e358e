// fcgi-host behind a real Apache 2.4 (mod_proxy_fcgi), configured from
// examples/apache: a handler, a script with PATH_INFO, streamed uploads, the
// 408, and stderr in Apache's error log.
#include <gtest/gtest.h>

#include <optional>

#include "../support/apache_process.hpp"
#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/nginx_process.hpp"

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
  const auto env = get("/cgi/env.py/some/path?a=b");
  EXPECT_EQ(env.status, 200);
  const std::vector<std::string> lines{"PATH_INFO=/some/path",       "SCRIPT_NAME=/cgi/env.py",
                                       "QUERY_STRING=a=b",           "REQUEST_METHOD=GET",
                                       "GATEWAY_INTERFACE=CGI/1.1", "SCRIPT_FILENAME=" + host_->script("env.py")};
  for (const auto& line : lines) EXPECT_NE(env.body.find("\n" + line + "\n"), std::string::npos) << line << " in\n" << env.body;
  EXPECT_EQ(get("/cgi/hello.sh").body, "Hello from a shell script!\n");
  EXPECT_EQ(get("/cgi/missing.sh").status, 404);
}

TEST_F(BehindApache, UploadsStreamToHandlersAndScripts) {
  const std::string body = patterned_bytes(3 * 1024 * 1024 + 7);
  const auto echoed = http_request(apache_->port(), "POST", "/fn/echo.body", body);
  EXPECT_EQ(echoed.status, 200);
  ASSERT_EQ(echoed.body.size(), body.size());
  EXPECT_EQ(crc32_hex(echoed.body), crc32_hex(body));
  const auto counted = http_request(apache_->port(), "POST", "/cgi/upload.pl", body);
  EXPECT_EQ(counted.status, 200);
  EXPECT_TRUE(counted.body.starts_with("received " + std::to_string(body.size()) + " bytes, md5 ")) << counted.body;
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
