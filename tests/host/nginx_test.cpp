// fcgi-host behind a real nginx, configured from examples/nginx: what a
// browser sees for a handler, a streamed upload, a timeout, a missing handler,
// where a handler's stderr ends up, and the status page as Prometheus sees it.
#include <boost/json/src.hpp>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "../support/crc32.hpp"
#include "../support/host_process.hpp"
#include "../support/nginx_process.hpp"

namespace fcgihost::test {
namespace {

// The host serves the example plugins (/fn/) and scripts (/cgi/) behind nginx.
class BehindNginx : public ::testing::Test {
 protected:
  static host_options plugins_and_scripts() {
    host_options options = with_arguments(
        {"--timeout", "1", "--kill-grace", "1", "--status-path", "/fcgi-status", "--ping-path", "/ping"});
    options.scripts = true;
    options.plugins.push_back("misbehaving");
    return options;
  }
  BehindNginx() : host_(plugins_and_scripts()), nginx_(host_.socket_path(), host_.scripts_dir()) {}
  host_process host_;
  nginx_process nginx_;
};
using ScriptsBehindNginx = BehindNginx;

TEST_F(BehindNginx, HandlerAnswers200) {
  const auto response = http_request(nginx_, "GET", "/fn/hello.greet?nginx");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.at("content-type"), "text/plain");
  EXPECT_EQ(response.body, "Hello, nginx!\n");
}

TEST_F(BehindNginx, PostBodyIsEchoedWhole) {
  const std::string body = patterned_bytes(3 * 1024 * 1024 + 7);
  const auto response = http_request(nginx_, "POST", "/fn/echo.body", body);
  EXPECT_EQ(response.status, 200);
  ASSERT_EQ(response.body.size(), body.size());
  EXPECT_EQ(crc32_hex(response.body), crc32_hex(body));
}

TEST_F(BehindNginx, TimeoutReachesTheClientAs408) {
  const auto response = http_request(nginx_, "GET", "/fn/slow.polite?30");
  EXPECT_EQ(response.status, 408);
  EXPECT_NE(response.body.find("did not finish within 1 s"), std::string::npos) << response.body;
}

// A response cut after its headers went out must not look whole to the
// browser: nginx sees the connection close without END_REQUEST and ends the
// chunked body without its last chunk, so curl reports a partial transfer.
TEST_F(BehindNginx, ATimeoutAfterOutputStartedNeverLooksComplete) {
  const auto curl = run_program({"/usr/bin/curl", "-sS", "--max-time", "20", "--unix-socket",
                                  nginx_.http_socket().string(), "http://localhost/fn/slow.stream"});
  EXPECT_NE(curl.exit_code, 0) << "curl took the cut response for a whole one:\n" << curl.out;
  EXPECT_TRUE(curl.out.starts_with("line 0\n")) << curl.out;
  EXPECT_NE(curl.err.find("transfer closed"), std::string::npos) << curl.err;
  // The host's marker of a cut (an invalid record before the close).
  EXPECT_NE(nginx_.error_log().find("upstream sent unsupported FastCGI protocol version: 0"), std::string::npos)
      << nginx_.error_log();
  // The next request on nginx's keep-alive pool is served as usual.
  EXPECT_EQ(http_request(nginx_, "GET", "/fn/hello.greet?again").body, "Hello, again!\n");
}

TEST_F(BehindNginx, OutputThatIsNotACgiResponseIs502WithTheReason) {
  const auto response = http_request(nginx_, "GET", "/fn/misbehaving.no-head");
  EXPECT_EQ(response.status, 502);
  EXPECT_EQ(response.body, "The application sent an invalid response.\n");
  const std::string log = nginx_.error_log();
  EXPECT_NE(log.find("FastCGI sent in stderr: \"fcgi-host: misbehaving.no-head: the output does not start with a CGI "
                     "header block"),
            std::string::npos)
      << log;
  EXPECT_EQ(http_request(nginx_, "GET", "/cgi/no_headers.sh").status, 502);
}

TEST_F(BehindNginx, HandlerStatusAndMissingHandlers) {
  EXPECT_EQ(http_request(nginx_, "GET", "/fn/echo.status?418").status, 418);
  EXPECT_EQ(http_request(nginx_, "GET", "/fn/nope.greet").status, 404);
  EXPECT_EQ(http_request(nginx_, "GET", "/fn/thrower.fail").status, 500);
}

TEST_F(BehindNginx, StderrLandsInNginxErrorLog) {
  const auto response = http_request(nginx_, "GET", "/fn/stderr_writer.warn");
  EXPECT_EQ(response.status, 200);
  const std::string log = nginx_.error_log();
  EXPECT_NE(log.find("FastCGI sent in stderr: \"stderr_writer: something to log for /fn/stderr_writer.warn"),
            std::string::npos)
      << log;
}

// The host's own answers through nginx's `location = /fcgi-status` and
// `location = /ping` of the example config, in each format.
TEST_F(BehindNginx, StatusPageAndPingInEveryFormat) {
  EXPECT_EQ(http_request(nginx_, "GET", "/fn/hello.greet").status, 200);
  const auto text = http_request(nginx_, "GET", "/fcgi-status");
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.headers.at("content-type"), "text/plain; charset=utf-8");
  EXPECT_NE(text.body.find("requests done:                  1\n"), std::string::npos) << text.body;
  const auto json = http_request(nginx_, "GET", "/fcgi-status?json");
  EXPECT_EQ(json.headers.at("content-type"), "application/json");
  EXPECT_TRUE(json.body.starts_with("{\"start_time\":")) << json.body;
  EXPECT_NE(json.body.find("\"route\":\"(plugins)\",\"requests\":1,"), std::string::npos) << json.body;
  const auto metrics = http_request(nginx_, "GET", "/fcgi-status?openmetrics");
  EXPECT_EQ(metrics.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics.body.find("fcgihost_requests_total{route=\"(plugins)\",outcome=\"done\"} 1\n"),
            std::string::npos)
      << metrics.body;
  // The full view lists the status request itself, as nginx passed it.
  const auto full = http_request(nginx_, "GET", "/fcgi-status?json&full");
  EXPECT_EQ(full.status, 200);
  EXPECT_NE(full.body.find("\"uri\":\"/fcgi-status?json&full\",\"route\":\"(host)\",\"runner\":\"host\""),
            std::string::npos)
      << full.body;
  const auto ping = http_request(nginx_, "GET", "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong\n");
}

// Debian's Prometheus 2.42 scrapes the status page through nginx (the
// example config's location, docs/operating.md's scrape config) and its query API
// answers with the count of requests the host served.
TEST(PrometheusThroughNginx, ScrapesTheStatusPageAndAnswersAQuery) {
  host_process host(with_arguments({"--status-path", "/fcgi-status"}));
  const std::uint16_t nginx_port = free_tcp_port();
  nginx_process nginx(host.socket_path(), "/nonexistent", nginx_port);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http_request(nginx, "GET", "/fn/hello.greet").status, 200);
  temp_dir dir;
  const std::uint16_t prometheus_port = free_tcp_port();
  write_file(dir / "prometheus.yml",
             "global:\n  scrape_interval: 1s\n"
             "scrape_configs:\n"
             "  - job_name: fcgi-host\n"
             "    metrics_path: /fcgi-status\n"
             "    params: { openmetrics: [\"\"] }\n"
             "    static_configs:\n"
             "      - targets: [\"127.0.0.1:" + std::to_string(nginx_port) + "\"]\n");
  child_process prometheus({FCGIHOST_PROMETHEUS, "--config.file=" + (dir / "prometheus.yml").string(),
                            "--storage.tsdb.path=" + (dir / "data").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)},
                           dir / "stdout", dir / "stderr");
  // Asked until it has scraped once (it starts, then scrapes every second).
  std::string value, answer;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (value.empty() && std::chrono::steady_clock::now() < give_up && prometheus.running()) {
    const auto asked = run_program({FCGIHOST_CURL, "-sfG", "--data-urlencode",
                                    "query=fcgihost_requests_total{route=\"(plugins)\",outcome=\"done\"}",
                                    "http://127.0.0.1:" + std::to_string(prometheus_port) + "/api/v1/query"});
    answer = asked.out;
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(asked.out, ec);
    if (!ec && parsed.is_object()) {
      const auto& result = parsed.at("data").at("result").as_array();
      if (!result.empty()) value = std::string(result.at(0).at("value").as_array().at(1).as_string());
    }
    if (value.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(value, "3") << answer << "\n" << read_file(dir / "stderr");
}

TEST_F(ScriptsBehindNginx, HelloAndTheCgiVariablesNginxSends) {
  const auto hello = http_request(nginx_, "GET", "/cgi/hello.sh");
  EXPECT_EQ(hello.status, 200);
  EXPECT_EQ(hello.headers.at("content-type"), "text/plain");
  EXPECT_EQ(hello.body, "Hello from a shell script!\n");

  const auto env = http_request(nginx_, "GET", "/cgi/env.py/some/path?a=b");
  EXPECT_EQ(env.status, 200);
  for (const std::string line : {"PATH_INFO=/some/path", "SCRIPT_NAME=/env.py", "QUERY_STRING=a=b",
                                 "REQUEST_METHOD=GET", "GATEWAY_INTERFACE=CGI/1.1"})
    EXPECT_NE(env.body.find("\n" + line + "\n"), std::string::npos) << line << " in\n" << env.body;
  EXPECT_NE(env.body.find("\nSCRIPT_FILENAME=" + host_.scripts_dir().string() + "/env.py\n"), std::string::npos)
      << env.body;
}

TEST_F(ScriptsBehindNginx, UploadsStreamThroughScripts) {
  const std::string body = patterned_bytes(3 * 1024 * 1024 + 7);
  const auto echoed = http_request(nginx_, "POST", "/cgi/echo.sh", body);
  EXPECT_EQ(echoed.status, 200);
  ASSERT_EQ(echoed.body.size(), body.size());
  EXPECT_EQ(crc32_hex(echoed.body), crc32_hex(body));
  const auto counted = http_request(nginx_, "POST", "/cgi/upload.pl", body);
  EXPECT_EQ(counted.status, 200);
  EXPECT_TRUE(counted.body.starts_with("received " + std::to_string(body.size()) + " bytes, md5 ")) << counted.body;
}

TEST_F(ScriptsBehindNginx, TimeoutRefusalsAndStderr) {
  const auto timed_out = http_request(nginx_, "GET", "/cgi/grandchild.sh");
  EXPECT_EQ(timed_out.status, 408);
  EXPECT_EQ(http_request(nginx_, "GET", "/cgi/missing.sh").status, 404);
  EXPECT_EQ(http_request(nginx_, "GET", "/cgi/not_executable.sh").status, 403);
  EXPECT_EQ(http_request(nginx_, "GET", "/cgi/silent.sh").status, 500);
  EXPECT_EQ(http_request(nginx_, "GET", "/cgi/stderr.pl").status, 200);
  const std::string log = nginx_.error_log();
  EXPECT_NE(log.find("FastCGI sent in stderr: \"stderr.pl: a warning for the error log"), std::string::npos) << log;
  EXPECT_TRUE(host_.wait_for_log("grandchild.sh (pid")) << host_.log();
}

}  // namespace
}  // namespace fcgihost::test
