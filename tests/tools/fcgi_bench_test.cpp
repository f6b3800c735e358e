// fcgi-bench run as a program against real servers (fcgi-host, libfcgi's C
// hello world, a server that answers garbage): its counts match what the
// servers saw, and each kind of error lands in its own count, with either
// engine. Speed is not asserted here.
#include <boost/json/src.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "../support/child_process.hpp"
#include "../support/host_process.hpp"
#include "../support/run_async.hpp"
#include "../support/status_probe.hpp"

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

// A unix socket server that answers whatever comes with an HTTP error: bytes
// that are no FastCGI record.
class garbage_server {
 public:
  explicit garbage_server(const std::filesystem::path& path) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 16) != 0)
      throw std::runtime_error("cannot listen on " + path.string());
    server_ = std::thread([this] { serve(); });
  }
  ~garbage_server() {
    ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
    server_.join();
    ::close(listener_);
  }
  garbage_server(const garbage_server&) = delete;
  garbage_server& operator=(const garbage_server&) = delete;

 private:
  void serve() {
    while (true) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      char request[4096];
      if (::read(client, request, sizeof request) > 0) {
        const std::string answer = "HTTP/1.1 400 Bad Request\r\n\r\n";
        [[maybe_unused]] const auto written = ::write(client, answer.data(), answer.size());
      }
      ::close(client);
    }
  }

  int listener_ = -1;
  std::thread server_;
};

// What holds for both ways fcgi-bench makes its load: blocking clients and
// event loops.
class FcgiBenchEngines : public testing::TestWithParam<std::string> {
 protected:
  bench_run run_with_engine(const std::string& address, std::vector<std::string> arguments) {
    arguments.insert(arguments.end(), {"--engine", GetParam()});
    auto run = run_bench(address, std::move(arguments));
    EXPECT_NE(run.json.find("\"engine\":\"" + GetParam() + "\""), std::string::npos) << run.json << run.err;
    return run;
  }
};

INSTANTIATE_TEST_SUITE_P(BothEngines, FcgiBenchEngines, testing::Values("blocking", "events"),
                         [](const auto& engine) { return engine.param; });

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
  EXPECT_EQ(wait_for_access(host, {.runner = "function", .outcome = "done", .app_status = 0}, 501), 501u);
}

TEST_P(FcgiBenchEngines, AConnectionPerRequestWithoutKeepConn) {
  host_process host;
  ASSERT_TRUE(host.wait_for_log("debug connection from"));  // the start-up probe's
  const std::size_t before = count_occurrences(host.log(), "debug connection from");
  const auto run = run_with_engine(host.address(),
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

TEST_P(FcgiBenchEngines, StatusCodesOtherThan2xxAreCountedByCode) {
  host_process host;
  const auto failing = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=thrower.fail", "--requests", "20"});
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_EQ(number_at(failing.json, "requests"), 20) << failing.json;
  EXPECT_EQ(number_at(failing.json, "succeeded"), 0) << failing.json;
  EXPECT_EQ(object_at(failing.json, "status"), "\"500\":20") << failing.json;
  const auto teapots = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=echo.status", "--param",
                                                  "QUERY_STRING=418", "--requests", "7", "--keep-conn"});
  EXPECT_EQ(object_at(teapots.json, "status"), "\"418\":7") << teapots.json;
}

TEST_P(FcgiBenchEngines, OverloadedIsCountedAsAProtocolStatus) {
  host_process host(with_arguments({"--max-requests", "1"}));
  const auto run = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=slow.polite", "--param",
                                              "QUERY_STRING=0.3", "--requests", "6", "--connections", "3"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "requests"), 6) << run.json;
  const double overloaded = number_at(run.json, "OVERLOADED");
  EXPECT_GT(overloaded, 0) << run.json;
  EXPECT_EQ(number_at(run.json, "succeeded") + overloaded, 6) << run.json;
}

TEST_P(FcgiBenchEngines, ARequestPastItsTimeoutIsCountedAsATimeout) {
  host_process host;
  const auto run = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=slow.polite", "--param",
                                              "QUERY_STRING=5", "--requests", "2", "--timeout", "0.3"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "timeout"), 2) << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 0) << run.json;
  EXPECT_LT(number_at(run.json, "seconds"), 3) << run.json;
}

TEST_P(FcgiBenchEngines, AConnectionTheServerDropsCountsItsRequestsAsResets) {
  // Params over the host's limit: it closes the connection without an answer.
  host_process host(with_arguments({"--max-params-bytes", "256"}));
  const auto run = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--param",
                                              "BIG=" + std::string(400, 'x'), "--requests", "5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "reset"), 5) << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 0) << run.json;
}

TEST_P(FcgiBenchEngines, NoServerMeansConnectErrorsAndExitOne) {
  temp_dir dir;
  const auto run = run_with_engine("unix:" + (dir / "nobody.sock").string(), {"--requests", "5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_GT(number_at(run.json, "connect"), 0) << run.json;
  EXPECT_NE(run.json.find("cannot connect to unix:"), std::string::npos) << run.json;
}

TEST_P(FcgiBenchEngines, AnswersThatAreNotFastCgiAreProtocolErrors) {
  temp_dir dir;
  garbage_server server(dir / "garbage.sock");
  const auto run = run_with_engine("unix:" + (dir / "garbage.sock").string(), {"--requests", "5"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(number_at(run.json, "protocol"), 5) << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 0) << run.json;
  EXPECT_EQ(number_at(run.json, "failed"), 5) << run.json;
}

TEST_P(FcgiBenchEngines, TheDeadlineEndsRequestsInFlightWithoutCountingThem) {
  host_process host;
  // Both requests take 5 s and no --timeout ends them: only the deadline can.
  const auto run = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=slow.polite", "--param",
                                                    "QUERY_STRING=5", "--duration", "1", "--timeout", "0",
                                                    "--connections", "2"});
  EXPECT_GE(number_at(run.json, "seconds"), 0.99) << run.json;
  EXPECT_LT(number_at(run.json, "seconds"), 4.0) << "the requests take 5 s: the deadline ended the run\n" << run.json;
  EXPECT_EQ(number_at(run.json, "requests"), 0) << run.json;
  EXPECT_EQ(number_at(run.json, "failed"), 0) << run.json;
}

TEST(FcgiBench, AutoPicksBlockingClientsOnlyForOneRequestAtATimeOnFewConnections) {
  host_process host;
  auto engine_for = [&](std::vector<std::string> arguments) {
    arguments.insert(arguments.end(), {"--param", "SCRIPT_FILENAME=echo.body", "--requests", "8"});
    const auto run = run_bench(host.address(), arguments);
    EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
    const auto at = run.json.find("\"engine\":\"");
    return at == std::string::npos ? "<missing>" : run.json.substr(at + 10, run.json.find('"', at + 10) - at - 10);
  };
  EXPECT_EQ(engine_for({}), "blocking");
  EXPECT_EQ(engine_for({"--keep-conn"}), "blocking");
  const auto many = std::to_string(std::thread::hardware_concurrency() + 1);
  EXPECT_EQ(engine_for({"--connections", many}), "events");
  EXPECT_EQ(engine_for({"--keep-conn", "--depth", "4"}), "events");  // the host multiplexes
  EXPECT_EQ(engine_for({"--body-size", "1K"}), "events");
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

TEST_P(FcgiBenchEngines, RunsForTheDurationAsked) {
  host_process host;
  const auto run = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--duration", "1",
                                              "--connections", "2", "--keep-conn", "--threads", "2"});
  EXPECT_EQ(run.exit_code, 0) << run.json << run.err;
  EXPECT_GT(number_at(run.json, "requests"), 0) << run.json;
  EXPECT_GE(number_at(run.json, "seconds"), 0.99) << run.json;
  EXPECT_LT(number_at(run.json, "seconds"), 4.0) << "a 1 s run, not more" << run.json;
}

TEST_P(FcgiBenchEngines, IdleConnectionsAreHeldWhileTheLoadRuns) {
  host_process host;
  ASSERT_TRUE(host.wait_for_log("debug connection from"));  // the start-up probe's
  const std::size_t before = count_occurrences(host.log(), "debug connection from");
  const auto run = run_with_engine(host.address(), {"--param", "SCRIPT_FILENAME=hello.greet", "--idle-connections", "50",
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
  const auto unknown = run_program({FCGIHOST_BENCH_BIN, "--connect", "unix:/x", "--engine", "fast"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--engine takes auto, blocking or events, not 'fast'"), std::string::npos)
      << unknown.err;
  const auto deep = run_program({FCGIHOST_BENCH_BIN, "--connect", "unix:/x", "--engine", "blocking", "--depth", "2"});
  EXPECT_EQ(deep.exit_code, 2);
  EXPECT_NE(deep.err.find("--engine blocking makes one request at a time without a body"), std::string::npos)
      << deep.err;
}

}  // namespace
}  // namespace fcgihost::test
