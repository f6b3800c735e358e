// The pure parts of a request's end and of the host's own answers: how a
// route counts an ending, and which answer a SCRIPT_NAME asks for.
#include <host/request/host_answers.hpp>
#include <host/request/request_report.hpp>

#include <gtest/gtest.h>

#include <set>

namespace fcgihost::host {
namespace {

TEST(RequestReport, ARouteCountsEachOutcomeAndTheStatusClassTheClientGot) {
  route_metrics route("r");
  using namespace std::chrono_literals;
  route.count(request_outcome::done, 200, 1ms, 10, 20);
  route.count(request_outcome::done, 404, 1ms, 0, 5) ;
  route.count(request_outcome::timeout, 408, 2s, 0, 0);
  route.count(request_outcome::connection_lost, 0, 1ms, 0, 0);
  route.count(request_outcome::overloaded, 0, 0ms, 0, 0);
  const auto seen = route.read();
  EXPECT_EQ(seen.requests(), 5u);
  EXPECT_EQ(seen.outcomes[static_cast<std::size_t>(request_outcome::done)], 2u) << "a handler's 404 ran to its end";
  EXPECT_EQ(seen.outcomes[static_cast<std::size_t>(request_outcome::timeout)], 1u);
  EXPECT_EQ(seen.statuses[status_class_of(200)], 1u);
  EXPECT_EQ(seen.statuses[status_class_of(404)], 2u) << "the 404 and the 408";
  EXPECT_EQ(seen.statuses[0], 2u) << "no response at all";
  EXPECT_EQ(seen.bytes_in, 10u);
  EXPECT_EQ(seen.bytes_out, 25u);
}

TEST(RequestReport, EveryOutcomeHasItsOwnName) {
  std::set<std::string_view> names;
  for (const auto outcome : all_request_outcomes) names.insert(to_string(outcome));
  EXPECT_EQ(names.size(), all_request_outcomes.size());
  EXPECT_FALSE(names.contains("unknown"));
  EXPECT_EQ(status_class_of(99), 0u);
  EXPECT_EQ(status_class_of(600), 0u);
  EXPECT_EQ(status_classes[status_class_of(503)], "5xx");
}

TEST(HostAnswers, ScriptNamePicksThePingOrTheStatusPage) {
  host_config settings;
  settings.ping_path = "/ping";
  settings.status_path = "/status";
  const auto with = [](std::string name, std::string query = {}) {
    return protocol::name_value_list{{"SCRIPT_NAME", std::move(name)}, {"QUERY_STRING", std::move(query)}};
  };
  EXPECT_EQ(host_answer_for(with("/ping"), settings), host_answer_kind::ping);
  EXPECT_EQ(host_answer_for(with("/status", "json"), settings), host_answer_kind::status);
  EXPECT_EQ(host_answer_for(with("/status", "full&json"), settings), host_answer_kind::full_status);
  EXPECT_EQ(host_answer_for(with("/other"), settings), host_answer_kind::none);
  EXPECT_EQ(host_answer_for({}, settings), host_answer_kind::none);
  host_config off;
  EXPECT_EQ(host_answer_for(with(""), off), host_answer_kind::none) << "no paths set: an empty name is not one";
}

TEST(HostAnswers, ThePingSaysDrainingWith503) {
  host_state host;
  EXPECT_EQ(ping_answer(host).status, 200);
  host.draining = true;
  const auto draining = ping_answer(host);
  EXPECT_EQ(draining.status, 503);
  EXPECT_NE(draining.response.find("draining"), std::string::npos);
}

}  // namespace
}  // namespace fcgihost::host
