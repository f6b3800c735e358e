// In a worker process: a request the connection's quick lane serves instead
// of a request_session (see host/transport/connection_quick_lane.cpp). It is taken when it
// arrives whole (BEGIN_REQUEST, PARAMS and a small FCGI_STDIN, as the host
// sends a quick request) for a handler on the fast path (handler_speed): its
// handler runs once its turn comes, off the strand on the I/O thread
// (io_threads::run_inline, so a handler that stalls after all is replaced
// there and the host's ABORT_REQUEST is still read), and its end goes out in
// one write. No timer, channel or coroutine of its own: a worker keeps no
// deadline (the host does), and a session's three hops and two coroutines
// per request were most of what a worker spent on a hello.
//
// The same request_lifecycle a session drives decides how it ends (a CGI
// head that is not one, a handler that failed, a write that failed), so the
// records it writes are the ones a session would have written. Everything
// but run() happens on the connection's strand.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/common/request_io.hpp>
#include <runners/function/handler_lookup.hpp>
#include <runners/worker/run_order.hpp>

#include <host/request/request_context.hpp>
#include <host/common/close_reason.hpp>
#include <host/request/request_lifecycle.hpp>
#include <host/request/request_sink.hpp>
#include <host/request/stderr_log_budget.hpp>

namespace fcgihost::host {

struct host_config;
class quick_request;

// What a quick request sees of its connection: a request_sink that is told
// when a quick request has ended (on the strand), so that it writes its end.
class quick_lane_owner : public request_sink {
 public:
  virtual void quick_request_ended(const std::shared_ptr<quick_request>& request) = 0;
};

class quick_request final : public runners::request_io, public std::enable_shared_from_this<quick_request> {
 public:
  quick_request(std::weak_ptr<quick_lane_owner> owner, boost::asio::any_io_executor strand, request_context& host,
                std::string peer, const host_config& settings, std::uint16_t id, bool keep_conn,
                runners::run_order::ticket ticket);
  ~quick_request() override;

  std::uint16_t id() const { return id_; }
  bool keep_conn() const { return keep_conn_; }
  runners::run_order::ticket ticket() const { return ticket_; }
  bool started() const { return started_; }
  bool launched() const { return launched_; }
  // All of FCGI_STDIN has arrived.
  bool whole() const { return stdin_ended_; }
  runners::handler_speed* speed() const { return handler_.speed; }

  // --- before its run: what the lane took of it ---
  // PARAMS are complete; they name `handler` (the host's handler param still in them).
  void start(protocol::name_value_list params, runners::bound_handler handler);
  // FCGI_STDIN; false once the body is more than a small one (see
  // worker_protocol::small_body_bytes): a session takes the request then.
  bool push_stdin(std::string_view bytes);
  // What arrived so far, for the session that takes the request instead.
  protocol::name_value_list& params() { return params_; }
  const std::string& body() const { return body_; }

  // --- its run ---
  // Its turn has come (on the strand): the handler will find the body whole.
  void launch();
  // Calls the handler, on this thread (an I/O thread, outside the strand).
  void run();
  // Back on the strand after run(): the lifecycle hears how it ended. The
  // connection is told (quick_request_ended) now, or once a write of the
  // handler's still going out has finished: then its end may be written.
  void run_done();
  // The host's ABORT_REQUEST while it runs: the handler is told to stop,
  // its output goes nowhere, and its END_REQUEST still says when it returned.
  void stop_by_host();
  // The connection is gone.
  void connection_lost();

  // --- its end (once the connection was told) ---
  // The records to write, with what a session logs at its end. `alone`: no
  // other request is on the connection. When they say close the connection
  // instead, `cut_reason` says why.
  final_records take_last_records(bool alone, close_reason& cut_reason);

  // Its place in the run order: given back once its handler has returned
  // (or it will not run), or handed on with the request to a session.
  void release_ticket();
  void hand_on_ticket() { ticket_held_ = false; }

  // runners::request_io
  const protocol::name_value_list& params() const override { return params_; }
  boost::asio::awaitable<std::string> read_stdin() override;
  bool stdin_complete() const override { return launched_; }
  boost::asio::awaitable<bool> write(runners::output_stream stream, std::string_view bytes) override;
  boost::asio::any_io_executor executor() const override { return strand_; }
  // In a worker, flushed output must have left the process (a crash after
  // it must not lose it).
  bool flush_waits() const override { return true; }

 private:
  // Tells the connection when the lifecycle says the request has ended.
  void after(lifecycle_action action);
  void log_stderr(std::string_view bytes);
  void log_stderr_line(std::string_view line);

  const std::weak_ptr<quick_lane_owner> owner_;
  const boost::asio::any_io_executor strand_;
  request_context& host_;
  const std::string peer_;
  const std::uint16_t id_;
  const bool keep_conn_;
  const runners::run_order::ticket ticket_;
  const std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
  request_lifecycle lifecycle_;
  protocol::name_value_list params_;
  runners::bound_handler handler_;
  std::string script_ = "-";
  std::string body_;
  bool started_ = false;
  bool stdin_ended_ = false;
  bool launched_ = false;
  bool ended_told_ = false;  // the connection was told (or is gone)
  bool ticket_held_ = true;
  std::stop_source stop_;
  runners::run_result result_;
  std::optional<std::chrono::microseconds> handler_ran_;
  stderr_log_budget stderr_log_;
};

}  // namespace fcgihost::host
