// fcgi-bench run as a program against real servers (fcgi-host, libfcgi's C
// hello world): its counts match what the servers saw, and each kind of
// error lands in its own count. Speed is not asserted here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "../support/child_process.hpp"
#include "../support/host_process.hpp"
#include "../support/run_async.hpp"

namespace fcgihost::test {
namespace {

struct bench_run {
  int exit_code;
  std::string json;
  std::string err;
};

bench_run run_bench(const std::string& address, std::vector<std::string> arguments) {
  std::vector<std::string> argv{FCGIHOST_BENCH_BIN, "--connect", address, "--json", "--quiet"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  auto result = run_program(argv);
  return {result.exit_code, result.out, result.err};
}

// The number after "key": in the JSON text (the first such key).
double number_at(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":");
  if (at == std::string::npos) return -1;
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

std::string object_at(const std::string& json, const std::string& key) {
  const auto at = json.find("\"" + key + "\":{");
  if (at == std::string::npos) return "<missing>";
  const auto start = at + key.size() + 4;  // past "key":{
  return json.substr(start, json.find('}', start) - start);
}

TEST(FcgiBench, CountsEveryRequestTheHostServedMultiplexed) {
  host_process host;
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--requests", "500",
                                              "--connections", "4", "--keep-conn", "--depth", "8"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_EQ(number_at(run.json, "requests"), 500) << run.json;
  EXPECT_EQ(number_at(run.json, "succeeded"), 500) << run.json;
  EXPECT_EQ(number_at(run.json, "failed"), 0) << run.json;
  EXPECT_EQ(number_at(run.json, "depth"), 8) << run.json;
  EXPECT_NE(run.json.find("\"multiplexed\":true"), std::string::npos) << run.json;
  // Every byte of every response, and nothing else.
  const auto one = run_async([&] { return fetch(host.address(), "hello.greet"); });
  EXPECT_EQ(number_at(run.json, "bytes_in"), 500.0 * static_cast<double>(one.out.size())) << one.out;
  // The host saw exactly as many requests (and the one fetched above).
  EXPECT_TRUE(host.wait_for_log("app_status=0 done"));
  EXPECT_EQ(host.wait_for_log_count("runner=function app_status=0 done", 501), 501u);
}

TEST(FcgiBench, AConnectionPerRequestWithoutKeepConn) {
  host_process host;
  ASSERT_TRUE(host.wait_for_log("debug connection from"));  // the start-up probe's
  const std::size_t before = count_occurrences(host.log(), "debug connection from");
  const auto run = run_bench(host.address(),
                             {"--param", "SCRIPT_FILENAME=hello.greet", "--requests", "120", "--connections", "3"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_EQ(number_at(run.json, "requests"), 120) << run.json;
  EXPECT_EQ(host.wait_for_log_count("debug connection from", before + 120), before + 120);
}

TEST(FcgiBench, FallsBackToDepthOneAgainstLibfcgiAndSaysSo) {
  temp_dir dir;
  const auto socket = dir / "libfcgi.sock";
  child_process libfcgi({FCGIHOST_LIBFCGI_HELLO, socket.string()}, dir / "out", dir / "err");
  ASSERT_TRUE(wait_for_unix_socket(socket, libfcgi));
  const auto run = run_bench("unix:" + socket.string(),
                             {"--requests", "300", "--connections", "2", "--keep-conn", "--depth", "8"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_EQ(number_at(run.json, "requests"), 300) << run.json;
  EXPECT_EQ(number_at(run.json, "failed"), 0) << run.json;
  EXPECT_EQ(number_at(run.json, "depth"), 1) << run.json;
  EXPECT_NE(run.json.find("does not multiplex connections (FCGI_MPXS_CONNS=0)"), std::string::npos) << run.json;
}

TEST(FcgiBench, StatusCodesOtherThan2xxAreCountedByCode) {
  host_process host;
  const auto failing = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=thrower.fail", "--requests", "20"});
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_EQ(number_at(failing.json, "requests"), 20) << failing.json;
  EXPECT_EQ(number_at(failing.json, "succeeded"), 0) << failing.json;
  EXPECT_EQ(object_at(failing.json, "status"), "\"500\":20") << failing.json;
  const auto teapots = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=echo.status", "--param",
                                                  "QUERY_STRING=418", "--requests", "7", "--keep-conn"});
  EXPECT_EQ(object_at(teapots.json, "status"), "\"418\":7") << teapots.json;
}

TEST(FcgiBench, OverloadedIsCountedAsAProtocolStatus) {
  host_process host(with_arguments({"--max-requests", "1"}));
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=slow.polite", "--param",
                                              "QUERY_STRING=0.3", "--requests", "6", "--connections", "3"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "requests"), 6) << run.json;
  const double overloaded = number_at(run.json, "OVERLOADED");
  EXPECT_GT(overloaded, 0) << run.json;
  EXPECT_EQ(number_at(run.json, "succeeded") + overloaded, 6) << run.json;
}

TEST(FcgiBench, ARequestPastItsTimeoutIsCountedAsATimeout) {
  host_process host;
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=slow.polite", "--param",
                                              "QUERY_STRING=5", "--requests", "2", "--timeout", "0.3"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "timeout"), 2) << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 0) << run.json;
  EXPECT_LT(number_at(run.json, "seconds"), 3) << run.json;
}

TEST(FcgiBench, AConnectionTheServerDropsCountsItsRequestsAsResets) {
  // Params over the host's limit: it closes the connection without an answer.
  host_process host(with_arguments({"--max-params-bytes", "256"}));
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--param",
                                              "BIG=" + std::string(400, 'x'), "--requests", "5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "reset"), 5) << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 0) << run.json;
}

TEST(FcgiBench, NoServerMeansConnectErrorsAndExitOne) {
  temp_dir dir;
  const auto run = run_bench("unix:" + (dir / "nobody.sock").string(), {"--requests", "5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_GT(number_at(run.json, "connect"), 0) << run.json;
  EXPECT_NE(run.json.find("cannot connect to unix:"), std::string::npos) << run.json;
}

TEST(FcgiBench, BodiesAreSentAndEchoed) {
  host_process host;
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=echo.body", "--body-size", "1M",
                                              "--requests", "5", "--keep-conn"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_EQ(number_at(run.json, "requests"), 5) << run.json;
  EXPECT_GE(number_at(run.json, "bytes_in"), 5 * 1024 * 1024) << run.json;
  EXPECT_GE(number_at(run.json, "bytes_out"), 5 * 1024 * 1024) << run.json;
}

TEST(FcgiBench, RunsForTheDurationAsked) {
  host_process host;
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--duration", "1",
                                              "--connections", "2", "--keep-conn", "--threads", "2"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_GT(number_at(run.json, "requests"), 0) << run.json;
  EXPECT_GE(number_at(run.json, "seconds"), 0.99) << run.json;
  EXPECT_LT(number_at(run.json, "seconds"), 2.0) << run.json;
}

TEST(FcgiBench, IdleConnectionsAreHeldWhileTheLoadRuns) {
  host_process host;
  ASSERT_TRUE(host.wait_for_log("debug connection from"));  // the start-up probe's
  const std::size_t before = count_occurrences(host.log(), "debug connection from");
  const auto run = run_bench(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--idle-connections", "50",
                                              "--requests", "20", "--keep-conn"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_EQ(number_at(run.json, "idle_connections"), 50) << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 20) << run.json;
  EXPECT_EQ(host.wait_for_log_count("debug connection from", before + 51), before + 51);  // 50 idle, 1 loaded
}

TEST(FcgiBench, BadArgumentsExitTwo) {
  const auto run = run_program({FCGIHOST_BENCH_BIN, "--connect", "unix:/x", "--depth", "0"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("--depth takes a whole number from 1"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace fcgihost::test
