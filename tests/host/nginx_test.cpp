// fcgi-host behind a real nginx, configured from examples/nginx: what a
// browser sees for a handler, a streamed upload, a timeout, a missing handler,
// and where a handler's stderr ends up.
#include <gtest/gtest.h>

#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/nginx_process.hpp"

namespace fcgihost::test {
namespace {

class BehindNginx : public ::testing::Test {
 protected:
  BehindNginx() : host_(with_arguments({"--timeout", "1"})), nginx_(host_.socket_path()) {}
  host_process host_;
  nginx_process nginx_;
};

TEST_F(BehindNginx, HandlerAnswers200) {
  const auto response = http_request(nginx_.port(), "GET", "/fn/hello.greet?nginx");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.at("content-type"), "text/plain");
  EXPECT_EQ(response.body, "Hello, nginx!\n");
}

TEST_F(BehindNginx, PostBodyIsEchoedWhole) {
  const std::string body = patterned_bytes(3 * 1024 * 1024 + 7);
  const auto response = http_request(nginx_.port(), "POST", "/fn/echo.body", body);
  EXPECT_EQ(response.status, 200);
  ASSERT_EQ(response.body.size(), body.size());
  EXPECT_EQ(crc32_hex(response.body), crc32_hex(body));
}

TEST_F(BehindNginx, TimeoutReachesTheClientAs408) {
  const auto response = http_request(nginx_.port(), "GET", "/fn/slow.polite?30");
  EXPECT_EQ(response.status, 408);
  EXPECT_NE(response.body.find("did not finish within 1 s"), std::string::npos) << response.body;
}

TEST_F(BehindNginx, HandlerStatusAndMissingHandlers) {
  EXPECT_EQ(http_request(nginx_.port(), "GET", "/fn/echo.status?418").status, 418);
  EXPECT_EQ(http_request(nginx_.port(), "GET", "/fn/nope.greet").status, 404);
  EXPECT_EQ(http_request(nginx_.port(), "GET", "/fn/thrower.fail").status, 500);
}

TEST_F(BehindNginx, StderrLandsInNginxErrorLog) {
  const auto response = http_request(nginx_.port(), "GET", "/fn/stderr_writer.warn");
  EXPECT_EQ(response.status, 200);
  const std::string log = nginx_.error_log();
  EXPECT_NE(log.find("FastCGI sent in stderr: \"stderr_writer: something to log for /fn/stderr_writer.warn"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace fcgihost::test
