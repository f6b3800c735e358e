// The pure parts of a request's end and of the host's own answers: how the
// metrics count an ending, and which answer a SCRIPT_NAME asks for.
#include <host/request/host_answers.hpp>
#include <host/request/request_report.hpp>

#include <gtest/gtest.h>

namespace fcgihost::host {
namespace {

request_ending ending_of(end_reason reason, int app_status = 0) {
  request_ending ending;
  ending.reason = reason;
  ending.app_status = app_status;
  return ending;
}

TEST(RequestReport, AnEndingIsCountedByItsReasonThenByTheStatusTheClientGot) {
  EXPECT_EQ(outcome_of(ending_of(end_reason::timeout, 408), 408), request_outcome::timeout);
  EXPECT_EQ(outcome_of(ending_of(end_reason::aborted), 0), request_outcome::abort);
  EXPECT_EQ(outcome_of(ending_of(end_reason::write_failed), 200), request_outcome::peer_gone);
  EXPECT_EQ(outcome_of(ending_of(end_reason::peer_gone), 0), request_outcome::peer_gone);
  EXPECT_EQ(outcome_of(ending_of(end_reason::body_too_large, 413), 413), request_outcome::body_too_large);
  EXPECT_EQ(outcome_of(ending_of(end_reason::done), 200), request_outcome::done);
  EXPECT_EQ(outcome_of(ending_of(end_reason::done, 3), 404), request_outcome::client_error) << "the client's status wins";
  EXPECT_EQ(outcome_of(ending_of(end_reason::failed, 500), 0), request_outcome::server_error) << "no response: the app status";
  auto crashed = ending_of(end_reason::failed, 502);
  crashed.runner_crashed = true;
  EXPECT_EQ(outcome_of(crashed, 502), request_outcome::crash);
  auto overloaded = ending_of(end_reason::refused);
  overloaded.protocol_status = protocol::protocol_status::overloaded;
  EXPECT_EQ(outcome_of(overloaded, 0), request_outcome::overloaded);
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
  EXPECT_EQ(draining.outcome, "draining");
}

}  // namespace
}  // namespace fcgihost::host
