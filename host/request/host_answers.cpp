#include "host_answers.hpp"

#include <fcgihost/protocol/response_status.hpp>

#include <host/status/status_page.hpp>

namespace fcgihost::host {

namespace {

std::string query_of(const protocol::name_value_list& params) {
  const std::string* found = protocol::find_value(params, "QUERY_STRING");
  return found ? *found : std::string();
}

}  // namespace

host_answer_kind host_answer_for(const protocol::name_value_list& params, const host_config& settings) {
  const std::string* name = protocol::find_value(params, "SCRIPT_NAME");
  if (!name || name->empty()) return host_answer_kind::none;
  if (*name == settings.ping_path) return host_answer_kind::ping;
  if (*name != settings.status_path) return host_answer_kind::none;
  return status_wants_full(query_of(params)) ? host_answer_kind::full_status : host_answer_kind::status;
}

lifecycle_event::answered_by_host ping_answer(const host_state& host) {
  if (host.draining) return {503, protocol::cgi_response(503, "Service Unavailable", "draining\n")};
  return {200, protocol::cgi_response(200, "OK", "pong\n")};
}

lifecycle_event::answered_by_host status_answer(const host_state& host, const protocol::name_value_list& params) {
  return {200, status_response(host, query_of(params))};
}

boost::asio::awaitable<runners::run_result> full_status_page(const request_context& host,
                                                              const protocol::name_value_list& params) {
  full_status full;
  full.workers = host.workers ? host.workers->describe() : std::vector<runners::worker_view>{};
  if (host.census) {
    auto seen = co_await host.census->requests_in_flight(most_requests_on_a_page);
    full.requests_not_listed = seen.in_all - seen.views.size();
    full.requests = std::move(seen.views);
  }
  runners::run_result page;
  page.last_stdout = status_response(host, query_of(params), &full);
  co_return page;
}

}  // namespace fcgihost::host
