// The client library and fcgi-client against a real php-fpm from Debian.
#include <client/cgi_params.hpp>
#include <client/connection.hpp>

#include <gtest/gtest.h>

#include <memory>

#include "../support/child_process.hpp"
#include "../support/crc32.hpp"
#include "../support/run_async.hpp"

namespace fcgihost::test {
namespace {

using boost::asio::awaitable;
using client::connection;

class PhpFpm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_STRNE(FCGIHOST_PHP_FPM, "") << "php-fpm was not found when configuring; ./test.sh installs it";
    dir = std::make_unique<temp_dir>();
    write_file(*dir / "echo.php", read_file(FCGIHOST_ECHO_PHP));
    socket = (*dir / "php-fpm.sock").string();
    write_file(*dir / "php-fpm.conf", "[global]\nerror_log = " + (*dir / "php-fpm.log").string() +
                                          "\ndaemonize = no\n[test]\nlisten = " + socket +
                                          "\npm = static\npm.max_children = 2\n");
    // -n: no php.ini, so error_log() goes to the web server as FCGI_STDERR.
    // -R: CI runs as root.
    server = std::make_unique<child_process>(
        std::vector<std::string>{FCGIHOST_PHP_FPM, "-n", "-R", "-F", "-y", (*dir / "php-fpm.conf").string()},
        *dir / "stdout", *dir / "stderr");
    ASSERT_TRUE(wait_for_unix_socket(socket, *server))
        << read_file(*dir / "stderr") << read_file(*dir / "php-fpm.log");
  }
  static void TearDownTestSuite() {
    server.reset();
    dir.reset();
  }

  static client::request_options php_request(std::string method, std::string uri) {
    client::http_request_line line;
    line.method = std::move(method);
    line.uri = std::move(uri);
    line.document_root = dir->path().string();
    line.headers = {"X-Custom: hello there"};
    client::request_options options;
    options.params = client::cgi_params_for(line);
    return options;
  }

  static inline std::unique_ptr<temp_dir> dir;
  static inline std::unique_ptr<child_process> server;
  static inline std::string socket;
};

TEST_F(PhpFpm, GetSendsParamsAndReceivesStdoutStderrAndStatus) {
  const auto response = run_async([]() -> awaitable<client::response> {
    auto conn = co_await connection::connect("unix:" + socket);
    auto request = php_request("GET", "/echo.php?a=1&b=two");
    co_return co_await conn.send(std::move(request));
  });
  EXPECT_EQ(response.protocol_status, 0);
  EXPECT_EQ(response.app_status, 0u);
  EXPECT_NE(response.out.find("Content-type: text/plain"), std::string::npos) << response.out;
  EXPECT_NE(response.out.find("\r\n\r\nmethod=GET\n"), std::string::npos) << response.out;
  EXPECT_NE(response.out.find("query=a=1&b=two\n"), std::string::npos);
  EXPECT_NE(response.out.find("custom=hello there\n"), std::string::npos);
  EXPECT_NE(response.err.find("php stderr for GET"), std::string::npos) << response.err;
}

TEST_F(PhpFpm, OneMebibytePostIsStreamedWhole) {
  const std::string body = patterned_bytes(1024 * 1024 + 13);
  const auto response = run_async([&]() -> awaitable<client::response> {
    auto conn = co_await connection::connect("unix:" + socket);
    auto request = php_request("POST", "/echo.php");
    client::set_param(request.params, "CONTENT_LENGTH", std::to_string(body.size()));
    co_return co_await conn.send(std::move(request), body);
  });
  EXPECT_NE(response.out.find("body_length=" + std::to_string(body.size()) + "\n"), std::string::npos)
      << response.out;
  EXPECT_NE(response.out.find("body_crc32=" + crc32_hex(body) + "\n"), std::string::npos) << response.out;
}

TEST_F(PhpFpm, KeepConnCarriesSeveralRequestsOnOneConnection) {
  const auto bodies = run_async([]() -> awaitable<std::vector<std::string>> {
    auto conn = co_await connection::connect("unix:" + socket);
    std::vector<std::string> outs;
    for (int i = 0; i < 3; ++i) {
      auto request = php_request("GET", "/echo.php?n=" + std::to_string(i));
      auto response = co_await conn.send(std::move(request));
      outs.push_back(response.out);
    }
    EXPECT_TRUE(conn.is_open());
    co_return outs;
  });
  ASSERT_EQ(bodies.size(), 3u);
  for (int i = 0; i < 3; ++i)
    EXPECT_NE(bodies[i].find("query=n=" + std::to_string(i) + "\n"), std::string::npos) << bodies[i];
}

TEST_F(PhpFpm, GetValuesSaysItDoesNotMultiplex) {
  const auto values = run_async([]() -> awaitable<protocol::name_value_list> {
    auto conn = co_await connection::connect("unix:" + socket);
    std::vector<std::string> names{"FCGI_MPXS_CONNS"};
    co_return co_await conn.get_values(std::move(names));
  });
  const auto* mpxs = protocol::find_value(values, "FCGI_MPXS_CONNS");
  ASSERT_NE(mpxs, nullptr);
  EXPECT_EQ(*mpxs, "0");
}

TEST_F(PhpFpm, CommandLineClientStreamsOutputAndExitsWithAppStatus) {
  write_file(*dir / "body", "cli body");
  const auto result = run_program({FCGIHOST_CLIENT_BIN, "--connect", "unix:" + socket, "--root", dir->path().string(),
                                   "-H", "X-Custom: from cli", "--stdin", (*dir / "body").string(), "POST",
                                   "/echo.php?cli=1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("method=POST\nquery=cli=1\ncustom=from cli\ncontent_length=8\nbody_length=8\n"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.err.find("php stderr for POST"), std::string::npos) << result.err;
}

TEST_F(PhpFpm, CommandLineClientGivesAPipedBodyItsContentLength) {
  // PHP reads a body only up to CONTENT_LENGTH: a pipe must still arrive whole.
  const auto result = run_program({"/bin/sh", "-c",
                                   "printf 'piped body' | \"$0\" --connect \"unix:$1\" --root \"$2\" --stdin - "
                                   "POST /echo.php",
                                   FCGIHOST_CLIENT_BIN, socket, dir->path().string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("content_length=10\nbody_length=10\n"), std::string::npos) << result.out;
}

TEST_F(PhpFpm, CommandLineClientGetValues) {
  const auto result = run_program({FCGIHOST_CLIENT_BIN, "--connect", "unix:" + socket, "--get-values"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("FCGI_MPXS_CONNS=0\n"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace fcgihost::test
