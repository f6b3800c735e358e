#include "request_lifecycle.hpp"

#include <fmt/format.h>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/stream_framing.hpp>

namespace fcgihost::host {

namespace {

// The app status of a request the web server aborted (nginx's "client closed request").
constexpr int aborted_app_status = 499;

constexpr std::string_view invalid_response_body = "The application sent an invalid response.\n";

std::string_view title_of(int status) {
  switch (status) {
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Internal Server Error";
  }
}

// A run that ended on its own in a worker may carry the worker's verdict on
// its handler (it threw, it printed no CGI headers), which the worker answered
// itself: the host's access line and metrics say the same.
request_outcome told_outcome(const runners::run_result& result) {
  switch (result.verdict) {
    case runners::handler_verdict::failed: return request_outcome::failed;
    case runners::handler_verdict::bad_response: return request_outcome::bad_response;
    case runners::handler_verdict::none: break;
  }
  return request_outcome::done;
}

}  // namespace

request_lifecycle::request_lifecycle(lifecycle_settings settings, clock::time_point began,
                                     std::chrono::milliseconds timeout)
    : settings_(settings),
      began_(began),
      timeout_(timeout),
      deadline_(timeout.count() > 0 ? began + timeout : clock::time_point::max()),
      stdin_(settings.stdin_memory_limit),
      held_output_(settings.held_output_memory_limit) {}

namespace {
template <typename... Handlers>
struct overloaded_handlers : Handlers... {
  using Handlers::operator()...;
};
template <typename... Handlers>
overloaded_handlers(Handlers...) -> overloaded_handlers<Handlers...>;
}  // namespace

lifecycle_action request_lifecycle::after(lifecycle_action::kind otherwise) {
  if (ending_ && phase_ < phase::ending) {
    if (finalize_told_) return {lifecycle_action::kind::none};
    finalize_told_ = true;
    return {lifecycle_action::kind::finalize};
  }
  return {otherwise};
}

lifecycle_action request_lifecycle::resume(lifecycle_event_type event) {
  namespace ev = lifecycle_event;
  using kind = lifecycle_action::kind;
  return std::visit(
      overloaded_handlers{
          [&](ev::params_complete& e) {
            const auto before = deadline_;
            start_running(e.timeout);
            return after(deadline_ != before ? kind::rearm_timer : kind::none);
          },
          [&](ev::refused& e) {
            refuse(e.status, e.outcome, std::move(e.body), std::move(e.host_stderr), std::move(e.why));
            return after(kind::none);
          },
          [&](ev::overloaded&) {
            refuse_overloaded();
            return after(kind::none);
          },
          [&](ev::answered_by_host& e) {
            answer_from_host(e.status, std::move(e.response));
            return after(kind::none);
          },
          [&](ev::stdin_chunk& e) {
            const bool release = stdin_arrived(e.bytes);
            return after(release ? kind::release_held_output : kind::none);
          },
          [&](ev::runner_output& e) {
            const kind otherwise = output(e.stream, e.bytes);
            // Finalize (this output ended the request: a bad head) drops it
            // too; after an earlier finalize it is dropped.
            const auto next = after(otherwise);
            return next.what == kind::none ? lifecycle_action{kind::drop} : next;
          },
          [&](ev::write_started&) {
            ++writes_in_flight_;
            return after(kind::none);
          },
          [&](ev::output_sending& e) {
            (e.stream == runners::output_stream::out ? stdout_started_ : stderr_started_) = true;
            return after(kind::none);
          },
          [&](ev::write_finished& e) {
            write_finished(e.ok);
            return after(kind::none);
          },
          [&](ev::runner_done& e) {
            runner_done(std::move(e.result));
            return after(kind::none);
          },
          [&](ev::timer_fired& e) {
            deadline_reached(e.now);
            return after(over() || deadline_ == clock::time_point::max() ? kind::none : kind::rearm_timer);
          },
          [&](ev::aborted&) {
            abort_requested();
            return after(kind::none);
          },
          [&](ev::output_discarded&) {
            output_discarded_ = true;
            return after(kind::none);
          },
          [&](ev::peer_gone&) {
            peer_gone();
            return after(kind::none);
          },
          [&](ev::host_failed& e) {
            host_failure(std::move(e.why));
            return after(kind::none);
          },
      },
      event);
}

void request_lifecycle::name_target(std::string runner_name, std::string target_name) {
  runner_name_ = std::move(runner_name);
  target_name_ = std::move(target_name);
}

void request_lifecycle::start_running(std::chrono::milliseconds timeout) {
  if (phase_ != phase::receiving_params || ending_) return;
  timeout_ = timeout;
  deadline_ = timeout.count() > 0 ? began_ + timeout : clock::time_point::max();
  phase_ = phase::running;
}

void request_lifecycle::refuse_overloaded() {
  end(request_ending{.outcome = request_outcome::overloaded,
                     .app_status = 0,
                     .protocol_status = protocol::protocol_status::overloaded});
}

void request_lifecycle::answer_from_host(int status, std::string response) {
  end(request_ending{.outcome = request_outcome::done,
                     .app_status = status == 200 ? 0 : status,
                     .response_if_silent = std::move(response)});
}

void request_lifecycle::refuse(int status, request_outcome outcome, std::string body, std::string host_stderr,
                               std::string why) {
  end(request_ending{.outcome = outcome,
                     .app_status = status,
                     .response_if_silent = protocol::cgi_response(status, title_of(status), body),
                     .host_stderr = std::move(host_stderr),
                     .log_message = std::move(why),
                     .log_as_error = status >= 500});
}

void request_lifecycle::end(request_ending ending) {
  if (ending_ || phase_ >= phase::ending) return;  // the first reason wins
  ending_ = std::move(ending);
}

void request_lifecycle::end_with_answer(request_outcome outcome, int status, std::string body) {
  end(request_ending{.outcome = outcome,
                     .app_status = status,
                     .response_if_silent = protocol::cgi_response(status, title_of(status), body)});
}

bool request_lifecycle::stdin_arrived(std::string_view bytes) {
  if (over() || stdin_ended_) return false;
  stdin_bytes_ += bytes.size();
  if (settings_.max_body_bytes > 0 && stdin_bytes_ > settings_.max_body_bytes) {
    stdin_ended_ = true;  // the rest is dropped
    stdin_.clear();
    end_with_answer(request_outcome::body_too_large, 413, "The request body is larger than this server accepts.\n");
    ending_->log_message = fmt::format("the body is over {} bytes (max-body-bytes): 413", settings_.max_body_bytes);
    return false;
  }
  if (bytes.empty()) {
    stdin_ended_ = true;
    return output_releasable() && has_held_output();
  }
  try {
    stdin_.append(bytes);
  } catch (const std::exception& e) {
    host_failure(e.what());
  }
  return false;
}

std::string request_lifecycle::take_stdin(std::size_t max) {
  if (over()) return {};
  return stdin_.take(max);
}

// Half the memory limit: what one more read of the socket adds still fits in
// memory, so a paused connection never makes the spool use the disk.
bool request_lifecycle::stdin_backlogged() const {
  return backpressure_ && !over() && !stdin_ended_ &&
         stdin_.memory_bytes() + stdin_.spooled_bytes() >= settings_.stdin_memory_limit / 2;
}

bool request_lifecycle::head_blocks_output() const {
  return held_stdout_ && head_.current() == protocol::response_head_check::verdict::incomplete;
}

bool request_lifecycle::output_releasable() const {
  return (stdin_ended_ || settings_.full_duplex) && !head_blocks_output();
}

lifecycle_action::kind request_lifecycle::output(runners::output_stream stream, std::string_view bytes) {
  if (over() || phase_ == phase::receiving_params || output_discarded_) return lifecycle_action::kind::drop;
  if (bytes.empty()) return lifecycle_action::kind::send;
  const bool is_stdout = stream == runners::output_stream::out;
  bool head_incomplete = false;
  if (is_stdout) {
    stdout_bytes_ += bytes.size();
    status_.feed(bytes);
    using verdict = protocol::response_head_check::verdict;
    if (head_.feed(bytes) == verdict::invalid && !stdout_started_) {
      end_with_answer(request_outcome::bad_response, 502, std::string(invalid_response_body));
      ending_->log_message = "the " + std::string(runner_name_ == "script" ? "script" : "handler") +
                             " sent no valid CGI response: " + head_.reason();
      ending_->log_as_error = true;
      ending_->host_stderr = "fcgi-host: " + target_name_ + ": " + head_.reason() + "\n";
      return lifecycle_action::kind::drop;
    }
    head_incomplete = head_.current() == verdict::incomplete;
  }
  if (!head_incomplete && output_releasable()) return lifecycle_action::kind::send;
  std::string records;
  protocol::append_stream(records, is_stdout ? protocol::record_type::std_out : protocol::record_type::std_err,
                          settings_.request_id, bytes);
  try {
    held_output_.append(records);
  } catch (const std::exception& e) {
    host_failure(e.what());
    return lifecycle_action::kind::drop;
  }
  (is_stdout ? held_stdout_ : held_stderr_) = true;
  return lifecycle_action::kind::hold;
}

std::string request_lifecycle::take_held_output(std::size_t max) {
  if (!output_releasable()) return {};
  std::string chunk = held_output_.take(max);
  if (!chunk.empty()) {
    stdout_started_ = stdout_started_ || held_stdout_;
    stderr_started_ = stderr_started_ || held_stderr_;
  }
  if (held_output_.empty()) held_stdout_ = held_stderr_ = false;
  return chunk;
}

void request_lifecycle::write_finished(bool ok) {
  if (writes_in_flight_ > 0) --writes_in_flight_;
  if (!ok) {
    end(request_ending{.outcome = request_outcome::write_failed, .app_status = 0});
    return;
  }
  if (phase_ == phase::settling && writes_in_flight_ == 0 && settled_result_) {
    auto result = std::move(*settled_result_);
    settled_result_.reset();
    end_run(std::move(result));
  }
}

void request_lifecycle::runner_done(runners::run_result result) {
  if (phase_ != phase::running || ending_) return;
  if (writes_in_flight_ > 0) {
    // A handler does not wait for its last writes: they go out before its result.
    phase_ = phase::settling;
    settled_result_ = std::move(result);
    return;
  }
  end_run(std::move(result));
}

void request_lifecycle::end_run(runners::run_result result) {
  const std::string what = runner_name_ == "script" ? "script" : "handler";
  if (output_discarded_) {
    // Stopped by the host (in a worker): whatever the handler did, or did
    // not get to do, nobody reads it. It ends quietly.
    end(request_ending{.outcome = request_outcome::stopped, .app_status = result.app_status});
    return;
  }
  if (!result.failure.empty()) {
    // A script's exit status stays the app status; a handler's exception is a 500.
    // A worker process that died is a bad gateway, as nginx says of a dead upstream.
    const int status = result.crashed ? 502 : 500;
    const std::string body = result.crashed ? "The process running the handler died.\n" : "The " + what + " failed.\n";
    end(request_ending{.outcome = result.crashed ? request_outcome::crashed : request_outcome::failed,
                       .app_status = result.app_status != 0 ? result.app_status : status,
                       .response_if_silent = protocol::cgi_response(status, title_of(status), body),
                       .runner_stderr = std::move(result.last_stderr),
                       .host_stderr = "fcgi-host: " + target_name_ + ": " + result.failure + "\n",
                       .log_message = result.crashed ? result.failure : "the " + what + " failed: " + result.failure,
                       .log_as_error = true,
                       .runner_crashed = result.crashed});
    return;
  }
  using verdict = protocol::response_head_check::verdict;
  if (!stdout_started_) {
    if (!result.last_stdout.empty()) head_.feed(result.last_stdout);
    if (head_.finish() == verdict::invalid) {
      end(request_ending{
          .outcome = request_outcome::bad_response,
          .app_status = 502,
          .response_if_silent =
              protocol::cgi_response(502, title_of(502), invalid_response_body),
          .runner_stderr = std::move(result.last_stderr),
          .host_stderr = "fcgi-host: " + target_name_ + ": " + head_.reason() + "\n",
          .log_message = "the " + what + " sent no valid CGI response: " + head_.reason(),
          .log_as_error = true});
      return;
    }
  }
  stdout_bytes_ += result.last_stdout.size();
  status_.feed(result.last_stdout);
  end(request_ending{.outcome = result.runs_on ? request_outcome::answered : told_outcome(result),
                     .app_status = result.app_status,
                     .runner_stderr = std::move(result.last_stderr),
                     .last_stdout = std::move(result.last_stdout)});
}

void request_lifecycle::deadline_reached(clock::time_point now) {
  if (now < deadline_ || over()) return;
  const int status = settings_.timeout_status;
  const double seconds = std::chrono::duration<double>(timeout_).count();
  const char* phase_name = phase_ == phase::receiving_params ? "; its PARAMS had not all arrived"
                           : !stdin_ended_                   ? "; its body had not all arrived"
                                                             : "";
  end_with_answer(request_outcome::timeout, status,
                  fmt::format("The request did not finish within {:g} s.\n", seconds));
  ending_->log_message = fmt::format("timed out after {:g} s{}{}", seconds, phase_name,
                                     stdout_started_ ? "; output had started, so the response is cut" : "");
}

void request_lifecycle::abort_requested() {
  end(request_ending{.outcome = request_outcome::aborted, .app_status = aborted_app_status});
}

void request_lifecycle::peer_gone() {
  end(request_ending{.outcome = request_outcome::connection_lost, .app_status = 0});
}

void request_lifecycle::host_failure(std::string why) {
  end(request_ending{.outcome = request_outcome::failed,
                     .app_status = 500,
                     .response_if_silent = protocol::cgi_response(500, title_of(500), "The host failed.\n"),
                     .log_message = std::move(why),
                     .log_as_error = true});
}

request_ending request_lifecycle::take_ending() {
  // Only after finalize: the driver has nothing else to take.
  request_ending ending = std::move(*ending_);
  ending_.reset();
  phase_ = phase::ending;
  settled_result_.reset();
  stdin_.clear();
  stdin_ended_ = true;
  const bool our_answer = !ending.response_if_silent.empty() && !stdout_started_;
  if (ending.outcome != request_outcome::done && ending.outcome != request_outcome::answered) {
    held_output_.clear();  // never reached the client, and nobody wants it now
    held_stdout_ = held_stderr_ = false;
  }
  ending_answers_ = our_answer || !ending.last_stdout.empty();
  if (our_answer) {
    status_ = protocol::response_status{};
    status_.feed(ending.response_if_silent);
    stdout_bytes_ = ending.response_if_silent.size();
  }
  return ending;
}

}  // namespace fcgihost::host
