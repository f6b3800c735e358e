#include "request_session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <spdlog/spdlog.h>

#include <runners/exception_text.hpp>

#include <protocol/encoder.hpp>
#include <protocol/stream_framing.hpp>

#include "connection.hpp"
#include "router.hpp"

namespace fcgihost::host {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;

namespace {

// FCGI_STDIN a request holds in memory before the rest waits on disk. A
// 1 MiB body stays in memory: the temp file's writes and reads cost more than
// the memory (1 MiB POST echo: 390 -> 490 requests/s).
constexpr std::size_t stdin_memory_limit = 1024 * 1024;
// Output a request holds in memory (before the rest waits on disk) while the
// web server is still sending its body: a 1 MiB response, with room for its
// record headers and CGI headers.
constexpr std::size_t held_output_memory_limit = 1024 * 1024 + 64 * 1024;
// The most a runner gets from one read_stdin().
constexpr std::size_t stdin_read_size = 256 * 1024;

// The app status of a request the web server aborted (nginx's "client closed request").
constexpr int aborted_app_status = 499;

// Longest FCGI_STDERR text copied into one log line.
constexpr std::size_t logged_stderr_bytes = 1024;

std::string body_too_large_response() {
  return protocol::cgi_response(413, "Content Too Large", "The request body is larger than this server accepts.\n");
}

std::string_view param_or_dash(const protocol::name_value_list& params, std::string_view name) {
  const auto* value = protocol::find_value(params, name);
  return value && !value->empty() ? std::string_view(*value) : std::string_view("-");
}

}  // namespace

request_session::request_session(std::shared_ptr<connection> owner, std::uint16_t request_id, bool keep_conn)
    : owner_(std::move(owner)),
      request_id_(request_id),
      keep_conn_(keep_conn),
      full_duplex_(owner_->host().settings()->full_duplex),
      max_body_bytes_(owner_->host().settings()->max_body_bytes),
      stdin_(stdin_memory_limit),
      stdin_arrived_(owner_->executor(), 1),
      wake_(owner_->executor()),
      writes_settled_(owner_->executor()),
      held_output_(held_output_memory_limit) {}

request_session::~request_session() = default;

asio::any_io_executor request_session::executor() const { return owner_->executor(); }

void request_session::start(protocol::name_value_list params) {
  started_ = true;
  params_ = std::move(params);
  asio::co_spawn(owner_->executor(), run(), [log = owner_->host().log, id = request_id_](std::exception_ptr failure) {
    if (failure) log->error("request {} failed inside the host: {}", id, runners::exception_text(failure));
  });
}

void request_session::push_stdin(std::string_view bytes) {
  if (over_ || stdin_ended_) return;
  stdin_bytes_ += bytes.size();
  if (max_body_bytes_ > 0 && stdin_bytes_ > max_body_bytes_) {
    body_too_large_ = true;
    stdin_ended_ = true;  // the rest is dropped
    owner_->host().log->warn("{} request {}: the body is over {} bytes (max-body-bytes): 413", owner_->peer(),
                             request_id_, max_body_bytes_);
    stop_.request_stop();
    if (started_) {
      wake_run();  // run() answers 413
    } else {
      asio::co_spawn(owner_->executor(), finish(413, body_too_large_response(), {}),
                     [log = owner_->host().log](std::exception_ptr e) {
                       if (e) log->error("ending a request with a body over the limit failed");
                     });
    }
    return;
  }
  if (bytes.empty()) {
    stdin_ended_ = true;  // the web server sent the end of FCGI_STDIN
  } else {
    try {
      stdin_.append(bytes);
      if (!stdin_on_disk_ && stdin_.spooled_bytes() > 0) {
        stdin_on_disk_ = true;
        owner_->host().log->debug("{} request {}: the body arrives faster than the {} reads it: the rest waits in a "
                                  "temporary file", owner_->peer(), request_id_, runner_name_);
      }
    } catch (const std::exception& e) {
      owner_->host().log->error("{} request {}: {}", owner_->peer(), request_id_, e.what());
      abort(false);
      return;
    }
  }
  stdin_arrived_.try_send(error_code{});
  if (stdin_ended_ && !held_output_.empty()) {
    asio::co_spawn(owner_->executor(), release_held_output(), [log = owner_->host().log](std::exception_ptr e) {
      if (e) log->debug("held output not sent: the connection failed");
    });
  }
}

awaitable<void> request_session::release_held_output() {
  auto self = shared_from_this();
  auto guard = co_await owner_->acquire_writer();
  if (!over_) co_await send_held_output();
}

awaitable<void> request_session::send_held_output() {
  if (held_output_.empty()) co_return;
  if (held_stdout_) stdout_started_ = true;
  held_stdout_ = false;
  for (std::string chunk = held_output_.take(stdin_read_size); !chunk.empty(); chunk = held_output_.take(stdin_read_size)) {
    const std::vector<asio::const_buffer> buffers(1, asio::buffer(chunk));
    co_await owner_->write_now(buffers);
  }
}

// Half the memory limit: what one more read of the socket adds still fits in
// memory, so a paused connection never makes its request's spool use the disk.
bool request_session::stdin_backlogged() const {
  return backpressure_ && !over_ && !stdin_ended_ && stdin_.memory_bytes() + stdin_.spooled_bytes() >= stdin_memory_limit / 2;
}

awaitable<std::string> request_session::read_stdin() {
  while (!over_ && !stdin_delivered_) {
    std::string chunk = stdin_.take(stdin_read_size);
    if (!chunk.empty()) {
      if (!stdin_backlogged()) owner_->resume_reading();  // the runner has caught up
      co_return chunk;
    }
    if (stdin_ended_) break;
    auto [ec] = co_await stdin_arrived_.async_receive(asio::as_tuple(use_awaitable));
    if (ec) break;
  }
  stdin_delivered_ = true;  // later reads see the end at once
  co_return std::string();
}

awaitable<bool> request_session::write(runners::output_stream stream, std::string_view bytes) {
  // Counted while it runs: the end of the run waits for it (writes_settled).
  struct in_flight {
    request_session& session;
    explicit in_flight(request_session& s) : session(s) { ++session.writes_in_flight_; }
    ~in_flight() {
      if (--session.writes_in_flight_ == 0 && session.awaiting_writes_) session.writes_settled_.cancel();
    }
  } counted(*this);
  // An abort or an oversized body ends the request once run() wakes up; until
  // then nothing more goes out, or the 413 could no longer replace held output.
  if (over_ || aborted_ || body_too_large_) co_return false;
  if (bytes.empty()) co_return true;
  const auto type =
      stream == runners::output_stream::out ? protocol::record_type::std_out : protocol::record_type::std_err;
  const bool hold = !stdin_ended_ && !full_duplex_;
  if (hold) {
    std::string records;
    protocol::append_stream(records, type, request_id_, bytes);
    try {
      held_output_.append(records);
    } catch (const std::exception& e) {
      owner_->host().log->error("{} request {}: {}", owner_->peer(), request_id_, e.what());
      co_return false;
    }
    if (stream == runners::output_stream::out) held_stdout_ = true;
    note_output(stream, bytes);
    co_return true;
  }
  // Gathered: record headers around the caller's own bytes, no copy.
  const protocol::gathered_records records(type, request_id_, bytes);
  std::vector<asio::const_buffer> buffers;
  for (const auto piece : records.pieces()) buffers.push_back(asio::buffer(piece));
  auto guard = co_await owner_->acquire_writer();
  if (over_) co_return false;  // ended while we waited: nothing after END_REQUEST
  if (stream == runners::output_stream::out) stdout_started_ = true;
  note_output(stream, bytes);
  try {
    co_await send_held_output();
    co_await owner_->write_now(buffers);
  } catch (const std::exception&) {
    connection_lost_ = true;  // the read loop sees it too and aborts the requests
    co_return false;
  }
  co_return true;
}

void request_session::note_output(runners::output_stream stream, std::string_view bytes) {
  if (stream == runners::output_stream::out) {
    stdout_bytes_ += bytes.size();
    status_.feed(bytes);
    return;
  }
  stderr_started_ = true;
  auto text = bytes.substr(0, logged_stderr_bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  owner_->host().log->warn("{} {}: stderr: {}", owner_->peer(), script_, text);
}

void request_session::abort(bool connection_lost) {
  if (over_) return;
  aborted_ = true;
  connection_lost_ = connection_lost_ || connection_lost;
  stop_.request_stop();
  if (started_) {
    wake_run();  // run() sees the abort and finishes
    return;
  }
  asio::co_spawn(owner_->executor(), finish(aborted_app_status, {}, {}), [log = owner_->host().log](std::exception_ptr e) {
    if (e) log->error("ending an aborted request failed");
  });
}

std::variant<awaitable<runners::run_result>, request_session::refusal> request_session::prepare_function(
    const resolved_target& target) {
  host_context& host = owner_->host();
  runner_name_ = "function";
  if (!host.functions)
    return refusal{404, "no plugins folder is configured (--plugins)", "no plugins folder is configured"};
  auto found = host.functions->find(target.plugin, target.handler);
  if (found.result == runners::lookup_result::outcome::not_found) return refusal{404, found.reason, found.reason};
  if (found.result == runners::lookup_result::outcome::broken)
    return refusal{500, found.reason, "The plugin cannot be loaded.", "fcgi-host: " + found.reason + "\n"};
  return host.functions->run(std::move(found.handler), shared_from_this(), stop_.get_token());
}

std::variant<awaitable<runners::run_result>, request_session::refusal> request_session::prepare_script(
    const resolved_target& target, const std::vector<std::string>& pass_env) {
  host_context& host = owner_->host();
  runner_name_ = "script";
  if (!host.scripts)
    return refusal{404, "no scripts folder is configured (--scripts)", "no scripts folder is configured"};
  auto script = host.scripts->locate(target.script);
  using verdict = runners::script_location::verdict;
  if (script.result == verdict::not_found) return refusal{404, script.reason, "no such script"};
  if (script.result == verdict::forbidden) return refusal{403, script.reason, "this script may not be run"};
  script_ = script.requested_file;
  return host.scripts->run(std::move(script), shared_from_this(), stop_.get_token(), target.limits, pass_env);
}

awaitable<void> request_session::run() {
  auto self = shared_from_this();  // alive until END_REQUEST, whatever the connection does
  host_context& host = owner_->host();
  const auto settings = host.settings();
  const resolved_target target = resolve_target(params_, *settings);
  if (!target.script_filename.empty()) script_ = target.script_filename;

  std::variant<awaitable<runners::run_result>, refusal> prepared = refusal{404, target.reason, target.reason};
  if (target.type == resolved_target::kind::script)
    prepared = prepare_script(target, settings->pass_env);
  else if (target.type == resolved_target::kind::function)
    prepared = prepare_function(target);
  if (auto* refused = std::get_if<refusal>(&prepared)) {
    co_await refuse(std::move(*refused));
    co_return;
  }

  if (target.timeout.count() > 0)
    wake_.expires_after(target.timeout);
  else
    wake_.expires_at(asio::steady_timer::time_point::max());
  if (co_await finished_early()) co_return;  // cut short before we got here
  using namespace asio::experimental::awaitable_operators;
  auto outcome = co_await (std::move(std::get<0>(prepared)) || wake_.async_wait(asio::as_tuple(use_awaitable)));
  if (outcome.index() == 0 && co_await writes_settled()) {
    auto& result = std::get<0>(outcome);
    if (result.failure.empty()) {
      if (!result.last_stderr.empty()) note_output(runners::output_stream::err, result.last_stderr);
      co_await finish(result.app_status, {}, std::move(result.last_stderr), std::move(result.last_stdout));
    } else {
      outcome_ = "failed";
      const std::string what = runner_name_ == "script" ? "script" : "handler";
      host.log->error("{} request {} {}: the {} failed: {}", owner_->peer(), request_id_, script_, what,
                      result.failure);
      // A script's exit status stays the app status; a handler's exception is a 500.
      co_await finish(result.app_status != 0 ? result.app_status : 500,
                      protocol::cgi_response(500, "Internal Server Error", "The " + what + " failed.\n"),
                      "fcgi-host: " + script_ + ": " + result.failure + "\n");
    }
    co_return;
  }
  stop_.request_stop();
  if (co_await finished_early()) co_return;
  const double seconds = std::chrono::duration<double>(target.timeout).count();
  outcome_ = "timeout";
  host.log->warn("{} request {} {}: timed out after {} s{}", owner_->peer(), request_id_, script_, seconds,
                 stdout_started_ ? "; output had started, so the stream was ended" : "");
  co_await finish(408,
                  protocol::cgi_response(408, "Request Timeout",
                               fmt::format("The request did not finish within {:g} s.\n", seconds)),
                  {});
}

// A runner may end with writes still on their way (a handler does not wait
// for its last buffer): they go out before its result, within the deadline.
// False when the deadline passed or the request was aborted meanwhile.
awaitable<bool> request_session::writes_settled() {
  while (writes_in_flight_ > 0 && !aborted_ && !body_too_large_) {
    writes_settled_.expires_at(wake_.expiry());
    awaiting_writes_ = true;
    auto [ec] = co_await writes_settled_.async_wait(asio::as_tuple(use_awaitable));
    awaiting_writes_ = false;
    if (!ec) co_return false;  // the deadline
  }
  co_return !aborted_ && !body_too_large_;
}

void request_session::wake_run() {
  wake_.cancel();
  writes_settled_.cancel();
}

awaitable<void> request_session::refuse(refusal refused) {
  host_context& host = owner_->host();
  const bool failed = refused.status >= 500;
  outcome_ = refused.status == 403 ? "forbidden" : failed ? "failed" : "not-found";
  host.log->log(failed ? spdlog::level::err : spdlog::level::warn, "{} request {}: {}: {}", owner_->peer(),
                request_id_, refused.status, refused.reason);
  const std::string_view title = refused.status == 403   ? "Forbidden"
                                 : refused.status == 404 ? "Not Found"
                                                         : "Internal Server Error";
  std::string body = refused.status == 404   ? "Not found: " + refused.body + "\n"
                     : refused.status == 403 ? "Forbidden: " + refused.body + "\n"
                                             : refused.body + "\n";
  co_await finish(refused.status, protocol::cgi_response(refused.status, title, body), std::move(refused.stderr_text));
}

awaitable<bool> request_session::finished_early() {
  if (aborted_) {
    co_await finish(aborted_app_status, {}, {});
    co_return true;
  }
  if (body_too_large_) {
    outcome_ = "body-too-large";
    co_await finish(413, body_too_large_response(), {});
    co_return true;
  }
  co_return false;  // a timeout, or nothing happened yet
}

awaitable<void> request_session::finish(int app_status, std::string response_if_silent, std::string stderr_text,
                                        std::string last_stdout) {
  if (over_) co_return;
  over_ = true;
  auto self = shared_from_this();
  stop_.request_stop();
  stdin_arrived_.cancel();
  stdin_arrived_.close();
  host_context& host = owner_->host();
  --host.active_requests;
  owner_->release_request_id(request_id_);
  if (!connection_lost_) {
    try {
      auto guard = co_await owner_->acquire_writer();
      std::string records;
      // Our own answer only while the client has seen nothing: after that the
      // headers are gone, and the stream is just ended.
      if (!response_if_silent.empty() && !stdout_started_) {
        // Output held back never reached the client: our answer replaces it.
        held_output_.clear();
        held_stdout_ = false;
        status_ = protocol::response_status{};
        protocol::append_stream(records, protocol::record_type::std_out, request_id_, response_if_silent);
        status_.feed(response_if_silent);
        stdout_bytes_ = response_if_silent.size();
        stdout_started_ = true;
      } else {
        co_await send_held_output();
        if (!last_stdout.empty()) {
          protocol::append_stream(records, protocol::record_type::std_out, request_id_, last_stdout);
          note_output(runners::output_stream::out, last_stdout);
          stdout_started_ = true;
        }
      }
      if (!stderr_text.empty()) {
        protocol::append_stream(records, protocol::record_type::std_err, request_id_, stderr_text);
        stderr_started_ = true;
      }
      protocol::append_stream_end(records, protocol::record_type::std_out, request_id_);
      if (stderr_started_) protocol::append_stream_end(records, protocol::record_type::std_err, request_id_);
      protocol::append_end_request(records, request_id_, static_cast<std::uint32_t>(app_status),
                                   protocol::protocol_status::request_complete);
      const std::vector<asio::const_buffer> buffers(1, asio::buffer(records));
      co_await owner_->write_now(buffers);
    } catch (const std::exception& e) {
      host.log->debug("{} request {}: END_REQUEST not sent: {}", owner_->peer(), request_id_, e.what());
    }
  }
  log_access(app_status, connection_lost_ ? "connection-lost" : aborted_ ? "aborted" : outcome_);
  owner_->request_done(keep_conn_);
}

void request_session::log_access(int app_status, std::string_view outcome) {
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began_).count();
  owner_->host().log->info("{} \"{} {}\" {} {} {:.1f}ms script={} runner={} app_status={} {}", owner_->peer(),
                           param_or_dash(params_, "REQUEST_METHOD"), param_or_dash(params_, "REQUEST_URI"),
                           stdout_started_ ? status_.status() : 0, stdout_bytes_, elapsed, script_, runner_name_,
                           app_status, outcome);
}

}  // namespace fcgihost::host
