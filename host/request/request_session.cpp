#include "request_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>


#include <runners/common/exception_text.hpp>
#include <runners/worker/worker_protocol.hpp>

#include <host/request/host_answers.hpp>
#include <host/request/lifecycle_settings_for.hpp>
#include <host/request/request_report.hpp>
#include <host/request/router.hpp>
#include <host/request/slow_request_log.hpp>

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;

namespace {


// `what` names the coroutine in the log if it fails: "request", "ending
// request", with the request's id (formatted only then: it is per request).
template <typename Coroutine>
void spawn_logged(const asio::any_io_executor& executor, Coroutine coroutine, std::shared_ptr<spdlog::logger> log,
                  const char* what, std::uint16_t request_id) {
  asio::co_spawn(executor, std::move(coroutine), [log = std::move(log), what, request_id](std::exception_ptr e) {
    if (e) log->error("{} {} failed inside the host: {}", what, request_id, runners::exception_text(e));
  });
}

}  // namespace

request_session::request_session(std::weak_ptr<request_sink> sink, asio::any_io_executor executor,
                                 request_context& host, std::shared_ptr<const host_config> settings, std::string peer,
                                 std::uint16_t request_id, bool keep_conn, bool status_only, fcgi_role role,
                                 std::optional<runners::run_order::ticket> run_ticket)
    : sink_(std::move(sink)),
      executor_(std::move(executor)),
      host_(host),
      settings_(std::move(settings)),
      peer_(std::move(peer)),
      request_id_(request_id),
      keep_conn_(keep_conn),
      role_(role),
      status_only_(status_only),
      lifecycle_(lifecycle_settings_for(*settings_, request_id), began_, settings_->timeout),
      timer_(executor_),
      slow_timer_(executor_),
      stdin_arrived_(executor_, 1),
      stop_waiting_(executor_, 1) {
  if (host_.in_worker) run_ticket_ = run_ticket ? *run_ticket : host_.in_worker->run_order->take();
}

request_session::~request_session() { release_run_ticket(); }

std::shared_ptr<void> request_session::keep_slot() {
  if (!slot_.held()) return nullptr;
  return std::make_shared<request_slot>(std::move(slot_));
}

void request_session::begin() { arm_timer(lifecycle_.deadline()); }

void request_session::arm_timer(std::chrono::steady_clock::time_point at) {
  if (at == std::chrono::steady_clock::time_point::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(at);
  timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_timer();
  });
}

void request_session::on_timer() {
  if (lifecycle_.current_phase() == request_lifecycle::phase::ended) return;
  if (lifecycle_.current_phase() == request_lifecycle::phase::ending) {
    // The last records did not go out in time: the web server is not reading.
    host_.log->warn("{} request {} {}: the web server does not read the end of the response; closing the "
                    "connection", peer_, request_id_, script_);
    if (auto sink = sink_.lock()) sink->tear_down(close_reason::replies_not_read);
    return;
  }
  perform(lifecycle_.resume(lifecycle_event::timer_fired{std::chrono::steady_clock::now()}));
}

void request_session::perform(lifecycle_action action) {
  using kind = lifecycle_action::kind;
  switch (action.what) {
    case kind::finalize:
      spawn_logged(executor_, finalize(), host_.log, "ending request", request_id_);
      break;
    case kind::release_held_output:
      spawn_logged(executor_, release_held_output(), host_.log, "sending the held output of request", request_id_);
      break;
    case kind::rearm_timer:
      arm_timer(lifecycle_.deadline());  // woken early, or the deadline moved
      break;
    case kind::none:
    case kind::send:
    case kind::hold:
    case kind::drop:
      break;
  }
}

void request_session::start(protocol::name_value_list params) {
  started_ = true;
  params_ = std::move(params);
  if (!host_.in_worker) {
    if (const auto dropped = drop_host_params(params_))
      host_.log->debug("{}: request {}: dropped {} param(s) named {}*, which only the host may send", peer_,
                       request_id_, dropped, runners::worker_protocol::host_param_prefix);
  }
  if (lifecycle_.over()) return;  // ended (its deadline, an abort) before its PARAMS were complete
  const host_config* settings = settings_.get();
  // Answered by the host, before any limit: a load balancer's check gets
  // through when every request slot is taken, and sees the drain.
  if (role_ == fcgi_role::responder && !host_.in_worker && answer_by_host(*settings)) return;
  if (status_only_) {
    route_ = &host_.metrics.nothing_ran();
    refuse(404, "this listener (--status-listen) serves only the ping and status paths",
           "This listener serves only the ping and status paths.");
    return;
  }
  slot_ = request_slot(host_.active_requests, settings->max_requests, &host_.quiet);
  if (slot_.held()) host_.metrics.note_in_flight(host_.active_requests.load(std::memory_order_relaxed));
  if (!slot_.held()) {
    if (std::string more; host_.refused_requests_log.allow(more))
      host_.log->warn("{}: request {} refused (OVERLOADED): {} requests already running{}", peer_, request_id_,
                      settings->max_requests, more);
    perform(lifecycle_.resume(lifecycle_event::overloaded{}));
    return;
  }
  if (role_ == fcgi_role::authorizer) {
    name_the_authorizer_role();
    // An Authorizer gets no body: Apache's mod_authnz_fcgi sends no FCGI_STDIN
    // at all, lighttpd an empty one (dropped as late input).
    push_stdin({});
  }
  const resolved_target target = !host_.in_worker ? resolve_target(params_, *settings, role_)
                                                    : resolve_worker_target(params_, host_.in_worker->plugin);
  if (!target.script_filename.empty()) script_ = target.script_filename;
  route_ = target.metrics                                           ? target.metrics
           : target.type == resolved_target::kind::function ? &host_.metrics.plugins()
           : target.type == resolved_target::kind::script   ? &host_.metrics.scripts()
                                                             : &host_.metrics.nothing_ran();
  prepared_run prepared = std::monostate{};
  if (target.type == resolved_target::kind::script)
    prepared = prepare_script(target, {settings->pass_env, settings->script_env});
  else if (target.type == resolved_target::kind::function)
    prepared = prepare_function(target);
  else
    refuse(role_ == fcgi_role::authorizer ? 403 : 404, target.reason, target.reason);  // an authorizer denies
  if (auto* work = std::get_if<0>(&prepared)) {
    if (settings->slow_threshold.count() > 0 && !host_.in_worker) arm_slow_timer(settings->slow_threshold);
    perform(lifecycle_.resume(lifecycle_event::params_complete{target.timeout}));  // a route's own timeout
    spawn_run(std::move(*work));
  }
}

void request_session::launch_held_run() {
  hold_run_ = false;
  if (!held_run_) return;
  auto work = std::move(*held_run_);
  held_run_.reset();
  spawn_run(std::move(work));
}

void request_session::spawn_run(awaitable<runners::run_result> work) {
  if (hold_run_) {
    held_run_.emplace(std::move(work));
    return;
  }
  spawn_logged(executor_, run(std::move(work)), host_.log, "request", request_id_);
}

// An authorizer learns its role from FCGI_ROLE, as libfcgi's programs do
// (which set it from BEGIN_REQUEST whatever the server sent).
void request_session::name_the_authorizer_role() {
  std::erase_if(params_, [](const auto& pair) { return pair.name == "FCGI_ROLE"; });
  params_.push_back({"FCGI_ROLE", "AUTHORIZER"});
}

// The host's own answers: its ping and status paths, matched against SCRIPT_NAME.
bool request_session::answer_by_host(const host_config& settings) {
  const auto kind = host_answer_for(params_, settings);
  if (kind == host_answer_kind::none) return false;
  script_ = *protocol::find_value(params_, "SCRIPT_NAME");
  lifecycle_.name_target("host", script_);
  route_ = &host_.metrics.host_answered();
  host_answer_slot_ = request_slot(host_.host_answers, request_context::host_answers_at_once);
  if (!host_answer_slot_.held()) {
    if (std::string more; host_.refused_requests_log.allow(more))
      host_.log->warn("{}: request {} for {} refused (OVERLOADED): {} of the host's own answers are already being "
                      "written{}", peer_, request_id_, script_, request_context::host_answers_at_once, more);
    perform(lifecycle_.resume(lifecycle_event::overloaded{}));
  } else if (kind == host_answer_kind::full_status) {
    // Each connection's requests are read on its own strand: a run of its own.
    perform(lifecycle_.resume(lifecycle_event::params_complete{settings.timeout}));
    spawn_run(full_status_page(host_, params_));
  } else {
    perform(lifecycle_.resume(kind == host_answer_kind::ping ? ping_answer(host_) : status_answer(host_, params_)));
  }
  return true;
}

request_view request_session::describe(std::chrono::steady_clock::time_point now) const {
  request_view view;
  view.id = request_id_;
  view.peer = peer_;
  if (started_) {
    view.method = cut_for_page(param_or_dash(&params_, "REQUEST_METHOD"));
    view.uri = cut_for_page(param_or_dash(&params_, "REQUEST_URI"));
  }
  if (route_) view.route = route_->name();
  view.runner = lifecycle_.runner_name();
  view.target = cut_for_page(script_);
  view.pid = worker_pid_ ? worker_pid_ : script_pid_;
  switch (lifecycle_.current_phase()) {
    case request_lifecycle::phase::receiving_params: view.state = "reading params"; break;
    case request_lifecycle::phase::running: view.state = lifecycle_.over() ? "ending" : "running"; break;
    case request_lifecycle::phase::settling: view.state = "settling"; break;
    case request_lifecycle::phase::ending:
    case request_lifecycle::phase::ended: view.state = "ending"; break;
  }
  view.elapsed_seconds = std::chrono::duration<double>(now - began_).count();
  return view;
}

// A runner that throws ends its run as a failure (500). It must not throw
// into the race in run(): operator|| waits for the first branch to *succeed*,
// so a thrown exception would leave the request waiting for its deadline.
namespace {
awaitable<runners::run_result> failure_as_result(awaitable<runners::run_result> work) {
  try {
    co_return co_await std::move(work);
  } catch (const std::exception& e) {
    runners::run_result failed;
    failed.failure = e.what();
    co_return failed;
  }
}
}  // namespace

awaitable<void> request_session::run(awaitable<runners::run_result> work) {
  auto self = shared_from_this();
  using namespace asio::experimental::awaitable_operators;
  if (run_ticket_) co_await wait_for_run_turn();  // in a worker only
  const auto began = std::chrono::steady_clock::now();
  runners::run_result result;
  if (host_.in_worker || run_ends_by_itself_) {
    // No race when the run always returns soon after its request ends: in a
    // worker (the host kills a worker whose handler ignores the stop; only
    // the loss of its connection ends a request without its runner, and the
    // worker then leaves), and in the host for a run in a worker (ended by
    // the worker, or by its kill after the kill grace; its wait in the pool's
    // queue races the end itself). The race costs two coroutines and turns
    // of the event loop per request.
    result = co_await failure_as_result(std::move(work));
  } else {
    auto guarded = failure_as_result(std::move(work));
    auto outcome = co_await (std::move(guarded) || stop_waiting_.async_receive(asio::as_tuple(use_awaitable)));
    if (outcome.index() != 0) co_return;  // the request ended without the runner
    result = std::move(std::get<0>(outcome));
  }
  if (run_ticket_)
    handler_ran_ = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - began);
  release_run_ticket();
  const auto next = lifecycle_.resume(lifecycle_event::runner_done{std::move(result)});
  if (next == lifecycle_action::kind::finalize)
    co_await finalize();  // in this coroutine: the runner's end is the request's
  else
    perform(next);
}

void request_session::push_stdin(std::string_view bytes) {
  const auto next = lifecycle_.resume(lifecycle_event::stdin_chunk{bytes});
  if (!stdin_on_disk_logged_ && lifecycle_.stdin_on_disk()) {
    stdin_on_disk_logged_ = true;
    host_.log->debug("{} request {}: the body arrives faster than the {} reads it: the rest waits in a temporary "
                     "file", peer_, request_id_, lifecycle_.runner_name());
  }
  stdin_arrived_.try_send(error_code{});
  perform(next);
}

void request_session::abort(bool connection_lost) {
  if (lifecycle_.over()) return;
  if (!connection_lost && host_.in_worker && started_) {
    // In a worker, the host's ABORT_REQUEST stops the handler (its stop
    // token fires, its writes fail), and its END_REQUEST tells the host when
    // the handler has returned: the host kills the worker if it does not
    // within the kill grace.
    host_.log->debug("request {} stopped by the host", request_id_);
    perform(lifecycle_.resume(lifecycle_event::output_discarded{}));
    stop_.request_stop();
    return;
  }
  if (connection_lost) {
    perform(lifecycle_.resume(lifecycle_event::peer_gone{}));
  } else {
    host_.log->info("{}: request {} aborted by the web server", peer_, request_id_);
    perform(lifecycle_.resume(lifecycle_event::aborted{}));
  }
}

awaitable<std::string> request_session::read_stdin() {
  while (!lifecycle_.over()) {
    std::string chunk = lifecycle_.take_stdin(io_chunk_size);
    if (!chunk.empty()) {
      if (!lifecycle_.stdin_backlogged())
        if (auto sink = sink_.lock()) sink->resume_reading();  // the runner has caught up
      co_return chunk;
    }
    if (lifecycle_.stdin_ended()) break;
    auto [ec] = co_await stdin_arrived_.async_receive(asio::as_tuple(use_awaitable));
    if (ec) break;
  }
  co_return std::string();
}

void request_session::arm_slow_timer(std::chrono::milliseconds threshold) {
  slow_timer_.expires_at(began_ + threshold);
  slow_timer_.async_wait([weak = weak_from_this()](error_code ec) {
    if (ec) return;
    if (auto self = weak.lock(); self && !self->lifecycle_.over()) log_slow_request(self->host_, self->report(), self->executor_);
  });
}


request_report request_session::report() const {
  request_report report;
  report.peer = peer_;
  report.request_id = request_id_;
  report.params = &params_;
  report.began = began_;
  report.script = script_;
  report.runner = lifecycle_.runner_name();
  report.worker_pid = worker_pid_;
  report.script_pid = script_pid_;
  report.logged_status = lifecycle_.logged_status();
  report.stdin_bytes = lifecycle_.stdin_bytes();
  report.stdout_bytes = lifecycle_.stdout_bytes();
  report.route = route_;
  report.in_worker = host_.in_worker != nullptr;
  return report;
}

}  // namespace fcgihost::host
