// Drives one request's lifecycle (request_lifecycle) with real I/O: its
// deadline timer, the runner it starts, the FCGI_STDIN it hands over, the
// writes it makes through its connection (a request_sink, held weakly), and
// the one way it ends (finalize()). Lives from BEGIN_REQUEST to the end of its
// last write; everything runs on the connection's strand.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

#include <fcgihost/protocol/name_value.hpp>
#include <runners/script/cgi_environment.hpp>
#include <runners/common/request_io.hpp>
#include <runners/worker/run_order.hpp>

#include <host/request/request_context.hpp>
#include <host/request/request_lifecycle.hpp>
#include <host/request/request_report.hpp>
#include <host/request/request_sink.hpp>
#include <host/status/request_view.hpp>
#include <host/request/request_slot.hpp>
#include <host/request/stderr_log_budget.hpp>

namespace fcgihost::host {

struct resolved_target;

class request_session final : public runners::request_io, public std::enable_shared_from_this<request_session> {
 public:
  // `settings`: the configuration in force at its BEGIN_REQUEST, used for the whole request.
  // `run_ticket`: in a worker, its place in the run order when it was taken
  // already (by the quick lane, which handed the request on); else it takes one.
  request_session(std::weak_ptr<request_sink> sink, boost::asio::any_io_executor executor, request_context& host,
                  std::shared_ptr<const host_config> settings, std::string peer, std::uint16_t request_id,
                  bool keep_conn, bool status_only = false, fcgi_role role = fcgi_role::responder,
                  std::optional<runners::run_order::ticket> run_ticket = std::nullopt);
  ~request_session() override;

  // Arms the deadline; call once, right after construction.
  void begin();
  // PARAMS are complete: resolve the target and run it (or answer ourselves).
  void start(protocol::name_value_list params);
  // From the connection, around start(): the run it begins waits for
  // launch_held_run(), which the connection calls once it has handled the
  // rest of what the same read brought. A GET's empty FCGI_STDIN comes in the
  // same read as its PARAMS, so the run finds its body whole instead of
  // waiting for it (a turn of the event loop per request).
  void hold_run_launch() { hold_run_ = true; }
  void launch_held_run();
  // FCGI_STDIN from the connection, taken at once. An empty chunk ends it.
  void push_stdin(std::string_view bytes);
  // ABORT_REQUEST (connection_lost false), or the connection is gone.
  void abort(bool connection_lost);

  bool started() const { return started_; }
  // For the status page's full view (on the strand).
  request_view describe(std::chrono::steady_clock::time_point now) const;
  bool stdin_backlogged() const { return lifecycle_.stdin_backlogged(); }
  void stop_backpressure() { lifecycle_.stop_backpressure(); }

  // runners::request_io
  const protocol::name_value_list& params() const override { return params_; }
  boost::asio::awaitable<std::string> read_stdin() override;
  bool stdin_complete() const override { return lifecycle_.stdin_ended(); }
  bool flush_waits() const override { return host_.in_worker != nullptr; }
  // The body is small (all here, or declared so by CONTENT_LENGTH): the
  // request may go to a busy worker once it is all here (see worker_pool::acquire).
  bool small_body() const;
  boost::asio::awaitable<bool> write(runners::output_stream stream, std::string_view bytes) override;
  boost::asio::any_io_executor executor() const override { return executor_; }
  void note_worker(int pid) override { worker_pid_ = pid; }
  void note_script(int pid) override { script_pid_ = pid; }
  std::shared_ptr<void> keep_slot() override;
  std::chrono::steady_clock::time_point deadline() const override { return lifecycle_.deadline(); }

 private:
  // The most a runner gets from one read_stdin(), and the largest piece of
  // held output sent in one write.
  static constexpr std::size_t io_chunk_size = 256 * 1024;

  using prepared_run = std::variant<boost::asio::awaitable<runners::run_result>, std::monostate>;

  // The run of what the target names, or std::monostate once refused.
  prepared_run prepare_function(const resolved_target& target);
  prepared_run run_found(runners::lookup_result found);
  boost::asio::awaitable<runners::run_result> load_then_run(std::string plugin, std::string handler);
  // isolation = "process": finds the plugin, leases one of its workers, runs there.
  boost::asio::awaitable<runners::run_result> run_isolated(runners::lookup_result found, std::string plugin,
                                                           std::string handler, overload_answer when_overloaded,
                                                           std::chrono::milliseconds kill_grace);
  // A lookup that found nothing to run: answered. False if it found a handler.
  // The host's own answers (ping and status page), when SCRIPT_NAME is their path.
  bool answer_by_host(const host_config& settings);
  void name_the_authorizer_role();
  bool refuse_unless_found(const runners::lookup_result& found);
  prepared_run prepare_script(const resolved_target& target, runners::script_environment_names environment);
  void refuse(int status, std::string reason, std::string body, std::string host_stderr = {});
  boost::asio::awaitable<void> run(boost::asio::awaitable<runners::run_result> work);
  // Spawns run(work), or holds it for launch_held_run().
  void spawn_run(boost::asio::awaitable<runners::run_result> work);

  void arm_timer(std::chrono::steady_clock::time_point at);
  void on_timer();
  // Does what the lifecycle says after an event (see lifecycle_action).
  void perform(lifecycle_action action);
  // The one way a request ends, when the lifecycle says finalize: stop the
  // runner, release what it holds, write the last records (or close the
  // connection), log the access line. Idempotent.
  boost::asio::awaitable<void> finalize();
  // The last records, and whether the connection must close instead.
  boost::asio::awaitable<final_records> write_last_records(request_sink& sink, const request_ending& ending,
                                                           bool alone);
  boost::asio::awaitable<void> release_held_output();
  void log_stderr(std::string_view bytes);
  // --slow-threshold: armed when it starts running; logs it if still running.
  void arm_slow_timer(std::chrono::milliseconds threshold);
  // What its end (or the slow log) reports of it now.
  request_report report() const;

  std::weak_ptr<request_sink> sink_;
  const boost::asio::any_io_executor executor_;
  request_context& host_;
  const std::shared_ptr<const host_config> settings_;
  const std::string peer_;
  const std::uint16_t request_id_;
  const bool keep_conn_;
  const fcgi_role role_;
  const bool status_only_;  // its connection came from --status-listen
  const std::chrono::steady_clock::time_point began_ = std::chrono::steady_clock::now();
  request_lifecycle lifecycle_;
  protocol::name_value_list params_;
  request_slot slot_;
  request_slot host_answer_slot_;  // the ping's or status page's, held until it is written
  std::stop_source stop_;
  bool started_ = false;
  bool stdin_on_disk_logged_ = false;
  bool held_output_on_disk_logged_ = false;
  bool finalizing_ = false;
  // The deadline, then (while the last records go out) the grace for them.
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer slow_timer_;  // --slow-threshold: fires once while it still runs
  // Wakes a runner waiting in read_stdin(); one slot is enough.
  boost::asio::experimental::channel<void(boost::system::error_code)> stdin_arrived_;
  // Tells run() to stop waiting for the runner: the request ended without it.
  // (A cancellation slot bound to run()'s co_spawn would spare the race's two
  // coroutines, but in Boost 1.81 the spawned thread touches the slot after
  // run() has let its session go: a use after free.)
  boost::asio::experimental::channel<void(boost::system::error_code)> stop_waiting_;
  bool hold_run_ = false;
  // Its run returns soon after the request ends (a run in a worker): run() need not race it.
  bool run_ends_by_itself_ = false;
  std::optional<boost::asio::awaitable<runners::run_result>> held_run_;
  stderr_log_budget stderr_log_;
  std::string script_ = "-";
  int worker_pid_ = 0;
  int script_pid_ = 0;
  route_metrics* route_ = nullptr;  // where its figures go: set once its target is known
  // In a worker: its place in the order handlers run (see run_order).
  std::optional<runners::run_order::ticket> run_ticket_;
  // In a worker: how long the handler ran, told to the host with the end.
  std::optional<std::chrono::microseconds> handler_ran_;
  void release_run_ticket();
  boost::asio::awaitable<void> wait_for_run_turn();
};

}  // namespace fcgihost::host
