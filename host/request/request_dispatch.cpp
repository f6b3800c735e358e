// The session's dispatch: the runner a resolved target names (a plugin
// handler in process or in a worker, a script), or the refusal that answers
// instead; and, in a worker process, the order handlers run in (run_order)
// and the run time told back to the host. Member functions of
// request_session, in a file of their own by job (see request_session.hpp).
#include "request_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <charconv>

#include <fcgihost/protocol/encoder.hpp>

#include <runners/worker/worker_protocol.hpp>

#include <host/request/router.hpp>
#include <host/request/run_time_record.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;

bool request_session::small_body() const {
  constexpr std::uint64_t small = runners::worker_protocol::small_body_bytes;
  if (stdin_complete() || lifecycle_.stdin_bytes() > small) return lifecycle_.stdin_bytes() <= small;
  const std::string* declared = protocol::find_value(params_, "CONTENT_LENGTH");
  if (!declared || declared->empty()) return true;  // a GET's: none
  std::uint64_t length = 0;
  const auto [end, failed] = std::from_chars(declared->data(), declared->data() + declared->size(), length);
  return failed == std::errc() && end == declared->data() + declared->size() && length <= small;
}

void request_session::release_run_ticket() {
  if (!run_ticket_) return;
  const auto ticket = *run_ticket_;
  run_ticket_.reset();
  host_.in_worker->run_order->release(ticket);
}

awaitable<void> request_session::wait_for_run_turn() {
  auto turn = std::make_shared<asio::experimental::channel<void(error_code)>>(executor_, 1);
  if (host_.in_worker->run_order->when_turn(*run_ticket_, [turn, executor = executor_] {
        asio::post(executor, [turn] { turn->try_send(error_code{}); });
      }))
    co_return;
  co_await turn->async_receive(asio::as_tuple(use_awaitable));
}

request_session::prepared_run request_session::prepare_function(const resolved_target& target) {
  lifecycle_.name_target("function", script_);
  if (target.isolation == isolation_mode::process && host_.workers) {
    run_ends_by_itself_ = true;
    return run_isolated(host_.workers->find_loaded(target.plugin, target.handler), target.plugin, target.handler,
                        target.when_overloaded, target.limits.kill_grace);
  }
  if (!host_.functions) {
    refuse(404, "no plugins folder is configured (--plugins)", "no plugins folder is configured");
    return std::monostate{};
  }
  auto found = host_.functions->find_loaded(target.plugin, target.handler);
  if (found.result == runners::lookup_result::outcome::needs_loading) {
    // Loaded off the I/O threads; the run starts once it is (its deadline runs meanwhile).
    return load_then_run(target.plugin, target.handler);
  }
  return run_found(std::move(found));
}

bool request_session::refuse_unless_found(const runners::lookup_result& found) {
  if (found.result == runners::lookup_result::outcome::not_found) {
    refuse(404, found.reason, found.reason);
    return true;
  }
  if (found.result == runners::lookup_result::outcome::broken) {
    refuse(500, found.reason, "The plugin cannot be loaded.", "fcgi-host: " + found.reason + "\n");
    return true;
  }
  return false;
}

awaitable<runners::run_result> request_session::run_isolated(runners::lookup_result found, std::string plugin,
                                                             std::string handler, overload_answer when_overloaded,
                                                             std::chrono::milliseconds kill_grace) {
  if (found.result == runners::lookup_result::outcome::needs_loading)
    found = co_await host_.workers->load_and_find(plugin, handler);  // a private copy, off the I/O threads
  if (lifecycle_.over()) co_return runners::run_result{};
  if (refuse_unless_found(found)) co_return runners::run_result{};
  // A small body is here whole before a worker is taken (see worker_job): a
  // client slow to send it holds no worker meanwhile.
  bool small = small_body();
  while (small && !stdin_complete() && !lifecycle_.over()) {
    auto [ec] = co_await stdin_arrived_.async_receive(asio::as_tuple(use_awaitable));
    if (ec) break;
    small = small_body();
  }
  if (lifecycle_.over()) co_return runners::run_result{};
  // Most requests find a worker at once; one that waits in the queue leaves
  // it as soon as the request ends (run() does not race this runner).
  runners::lease_result leased;
  if (auto now = host_.workers->try_acquire(found.handler, small)) {
    leased = std::move(*now);
  } else {
    using namespace asio::experimental::awaitable_operators;
    auto waited = co_await (host_.workers->acquire(found.handler, lifecycle_.deadline(), small) ||
                            stop_waiting_.async_receive(asio::as_tuple(use_awaitable)));
    if (waited.index() != 0) co_return runners::run_result{};  // ended while it waited
    leased = std::move(std::get<0>(waited));
  }
  if (lifecycle_.over()) {
    if (leased.lease) leased.lease->unused();
    co_return runners::run_result{};
  }
  if (!leased.lease) {
    if (leased.refusal_status == 0 && when_overloaded == overload_answer::overloaded) {
      if (std::string more; host_.refused_requests_log.allow(more))
        host_.log->warn("{}: request {} refused (OVERLOADED): {}{}", peer_, request_id_, leased.reason, more);
      perform(lifecycle_.resume(lifecycle_event::overloaded{}));
    } else if (leased.refusal_status == 0) {
      perform(lifecycle_.resume(
          lifecycle_event::refused{503, request_outcome::overloaded, "The plugin is busy; try again.\n", {}, "503: " + leased.reason}));
    } else {
      const int status = leased.refusal_status;
      refuse(status, leased.reason, status == 404 ? leased.reason : "The plugin cannot be run.",
             status >= 500 ? "fcgi-host: " + leased.reason + "\n" : std::string());
    }
    co_return runners::run_result{};
  }
  co_return co_await host_.workers->run(std::move(*leased.lease), found.handler, shared_from_this(),
                                        stop_.get_token(), kill_grace, lifecycle_.deadline(), small);
}

request_session::prepared_run request_session::run_found(runners::lookup_result found) {
  if (refuse_unless_found(found)) return std::monostate{};
  return host_.functions->run(std::move(found.handler), shared_from_this(), stop_.get_token());
}

awaitable<runners::run_result> request_session::load_then_run(std::string plugin, std::string handler) {
  auto found = co_await host_.functions->load_and_find(std::move(plugin), std::move(handler));
  if (lifecycle_.over()) co_return runners::run_result{};  // ended meanwhile: run() no longer waits
  auto prepared = run_found(std::move(found));
  if (auto* work = std::get_if<0>(&prepared)) co_return co_await std::move(*work);
  co_return runners::run_result{};  // refused: its finalize tells run() to stop waiting
}

request_session::prepared_run request_session::prepare_script(const resolved_target& target,
                                                              runners::script_environment_names environment) {
  lifecycle_.name_target("script", script_);
  if (!host_.scripts) {
    refuse(404, "no scripts folder is configured (--scripts)", "no scripts folder is configured");
    return std::monostate{};
  }
  auto script = host_.scripts->locate(target.script);
  using verdict = runners::script_location::verdict;
  if (script.result == verdict::not_found) {
    refuse(404, script.reason, "no such script");
    return std::monostate{};
  }
  if (script.result == verdict::forbidden) {
    refuse(403, script.reason, "this script may not be run");
    return std::monostate{};
  }
  script_ = script.requested_file;
  lifecycle_.name_target("script", script_);
  return host_.scripts->run(std::move(script), shared_from_this(), stop_.get_token(), target.limits, std::move(environment));
}

void request_session::refuse(int status, std::string reason, std::string body, std::string host_stderr) {
  std::string text = status == 404   ? "Not found: " + body + "\n"
                     : status == 403 ? "Forbidden: " + body + "\n"
                                     : body + "\n";
  const auto outcome = status == 403  ? request_outcome::forbidden
                      : status >= 500 ? request_outcome::failed
                                      : request_outcome::not_found;
  perform(lifecycle_.resume(lifecycle_event::refused{status, outcome, std::move(text), std::move(host_stderr),
                                                     fmt::format("{}: {}", status, reason)}));
}

}  // namespace fcgihost::host
