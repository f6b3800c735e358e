// The host's own answers, which no runner gives: its ping path (php-fpm's
// ping.path: "pong", 503 while draining) and its status page, when
// SCRIPT_NAME is one of their paths. What to answer, not how it is written:
// the session hands the answer to its lifecycle.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/common/run_result.hpp>

#include <host/config/config.hpp>
#include <host/request/request_context.hpp>
#include <host/request/request_lifecycle.hpp>

namespace fcgihost::host {

enum class host_answer_kind {
  none,         // not the host's: a runner serves it
  ping,         // the ping path
  status,       // the status page, answered at once
  full_status,  // the status page with every request and worker: a run of its own
};

// Which answer the request's SCRIPT_NAME asks for.
host_answer_kind host_answer_for(const protocol::name_value_list& params, const host_config& settings);

// The ping's answer, or the status page's (not the full one).
lifecycle_event::answered_by_host ping_answer(const host_state& host);
lifecycle_event::answered_by_host status_answer(const host_state& host, const protocol::name_value_list& params);

// The full status page: each request in flight (read on every connection's
// strand) and each worker, as a runner's result.
boost::asio::awaitable<runners::run_result> full_status_page(const request_context& host,
                                                              const protocol::name_value_list& params);

}  // namespace fcgihost::host
