// One request, from its PARAMS to its END_REQUEST: resolves the target, runs
// it against the timeout and an abort, streams FCGI_STDIN to it and its output
// back, and answers 404, 408 or 500 itself when that is the outcome.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

#include <protocol/name_value.hpp>
#include <protocol/response_status.hpp>
#include <runners/request_io.hpp>

#include "byte_spool.hpp"

namespace fcgihost::host {

class connection;
struct resolved_target;

class request_session final : public runners::request_io, public std::enable_shared_from_this<request_session> {
 public:
  request_session(std::shared_ptr<connection> owner, std::uint16_t request_id, bool keep_conn);
  ~request_session() override;

  // Starts the work once PARAMS are complete (on the connection's strand).
  void start(protocol::name_value_list params);
  // FCGI_STDIN from the connection, taken at once (see byte_spool). An
  // empty chunk ends the stream.
  void push_stdin(std::string_view bytes);
  // ABORT_REQUEST, or the connection is gone (then nothing more is written).
  void abort(bool connection_lost);

  bool started() const { return started_; }
  // Enough FCGI_STDIN waits for the runner that the connection may stop
  // reading (see connection::input_backlogged).
  bool stdin_backlogged() const;
  // The runner did not take its backlog in time: no more pauses for it.
  void stop_backpressure() { backpressure_ = false; }

  // runners::request_io
  const protocol::name_value_list& params() const override { return params_; }
  boost::asio::awaitable<std::string> read_stdin() override;
  boost::asio::awaitable<bool> write(runners::output_stream stream, std::string_view bytes) override;
  boost::asio::any_io_executor executor() const override;

 private:
  // A request answered without running anything (404, 403, a broken plugin).
  struct refusal {
    int status;
    std::string reason;       // for the log
    std::string body;         // for the client
    std::string stderr_text = {};  // for the web server's error log
  };

  boost::asio::awaitable<void> run();
  // The run of what the target names, not started yet; or why there is none.
  std::variant<boost::asio::awaitable<runners::run_result>, refusal> prepare_function(const resolved_target& target);
  std::variant<boost::asio::awaitable<runners::run_result>, refusal> prepare_script(
      const resolved_target& target, const std::vector<std::string>& pass_env);
  boost::asio::awaitable<void> refuse(refusal refused);
  // Ends the request: what the runner left unsent (unless our own answer
  // replaces it), then the end of the streams and END_REQUEST, in one write.
  boost::asio::awaitable<void> finish(int app_status, std::string response_if_silent, std::string stderr_text,
                                      std::string last_stdout = {});
  boost::asio::awaitable<bool> writes_settled();
  // An abort or an oversized body: run() stops waiting for the runner or its writes.
  void wake_run();
  // Ends the request if an abort or an oversized body cut it short.
  boost::asio::awaitable<bool> finished_early();
  // Writes the held output; only while holding the connection's write guard.
  boost::asio::awaitable<void> send_held_output();
  boost::asio::awaitable<void> release_held_output();
  void log_access(int app_status, std::string_view outcome);
  void note_output(runners::output_stream stream, std::string_view bytes);

  std::shared_ptr<connection> owner_;
  const std::uint16_t request_id_;
  const bool keep_conn_;
  const bool full_duplex_;
  const std::uint64_t max_body_bytes_;
  protocol::name_value_list params_;
  byte_spool stdin_;
  // Wakes a runner waiting in read_stdin(); one slot is enough.
  boost::asio::experimental::channel<void(boost::system::error_code)> stdin_arrived_;
  bool stdin_ended_ = false;      // the web server ended FCGI_STDIN
  bool stdin_delivered_ = false;  // the runner has seen the end
  bool backpressure_ = true;      // the connection may pause for this request
  bool stdin_on_disk_ = false;    // logged once
  std::string_view outcome_ = "done";  // for the access log
  boost::asio::steady_timer wake_;  // the deadline; cancelled early by an abort
  std::size_t writes_in_flight_ = 0;
  boost::asio::steady_timer writes_settled_;  // cancelled when the last one ends
  bool awaiting_writes_ = false;  // run() waits on writes_settled_
  std::stop_source stop_;
  bool started_ = false;
  bool over_ = false;  // END_REQUEST is on its way: output is dropped
  bool aborted_ = false;
  bool body_too_large_ = false;
  std::uint64_t stdin_bytes_ = 0;
  bool connection_lost_ = false;
  bool stdout_started_ = false;  // the web server has been sent stdout bytes
  // Output kept back until FCGI_STDIN ends (see host_config::full_duplex), as
  // encoded records so stdout and stderr keep their order.
  byte_spool held_output_;
  bool held_stdout_ = false;
  bool stderr_started_ = false;
  std::uint64_t stdout_bytes_ = 0;
  protocol::response_status status_;
  std::string runner_name_ = "-";
  std::string script_ = "-";
  std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
};

}  // namespace fcgihost::host
