#include "worker_exchange.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fcgihost/protocol/encoder.hpp>

#include <runners/worker/worker_protocol.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

class worker_exchange : public std::enable_shared_from_this<worker_exchange> {
 public:
  worker_exchange(worker_lease lease, worker_job job, std::shared_ptr<request_io> io, std::stop_token stop,
                  std::shared_ptr<spdlog::logger> log)
      : lease_(std::move(lease)),
        job_(std::move(job)),
        io_(std::move(io)),
        stop_(std::move(stop)),
        log_(std::move(log)),
        executor_(io_->executor()),
        link_(lease_.link()),
        inbox_(std::make_shared<worker_link::inbox>(2)) {}

  // The link may still hold the inbox: whatever it sends from now on is dropped.
  ~worker_exchange() { inbox_->close(); }

  // The outcome, or nothing when the run delivered none (stopped before it
  // was sent, stopped and then ended, or the host's side failed).
  asio::awaitable<std::optional<worker_outcome>> run() {
    auto self = shared_from_this();
    // The stop token fires on the request's strand (the request ends there),
    // so this runs at once: the worker gets ABORT_REQUEST and, when it is
    // running this request, drops to idle CPU priority before the host writes
    // its 408, so that a burst of busy workers stopped together never delays
    // the host's answers.
    std::stop_callback on_stop(stop_, [weak = weak_from_this(), executor = executor_] {
      asio::dispatch(executor, [weak] {
        if (auto exchange = weak.lock()) exchange->stopped();
      });
    });
    co_await send_request();
    if (!place_) {
      // Stopped before it was sent, or the worker is gone.
      if (!stop_.stop_requested()) deliver_not_started();
      lease_.unused();
      co_return std::move(outcome_);
    }
    try {
      // A body sent whole with the request (most are) needs no pump of its own.
      if (stdin_done_)
        co_await pump_output();
      else
        co_await (pump_stdin() && pump_output());
    } catch (const std::exception& e) {
      log_->error("{}: the exchange failed inside the host: {}", describe(), e.what());
      link_.kill("the host's side of its exchange failed");
    }
    if (ended_ && !gone_) lease_.finished(run_us_);
    // Otherwise the lease is dropped: the worker is killed (if it still runs) and replaced.
    co_return std::move(outcome_);
  }

 private:
  std::string describe() const {
    return "worker " + std::to_string(link_.pid()) + " of plugin " + lease_.plugin() + " (handler " + job_.handler +
           ")";
  }

  void stopped() {
    if (stop_handled_ || ended_) return;
    stop_handled_ = true;
    if (!place_) return;  // not sent yet: it never will be
    if (link_.abort(place_, job_.kill_grace)) {
      // Its worker is busy with it: during its kill grace it takes no CPU
      // from requests that are still running, and a fresh one takes its place.
      link_.process().demote();
      lease_.condemn();
    }
  }

  asio::awaitable<void> send_request() {
    io_->note_worker(link_.pid());
    // A GET's empty body, or a small body already here, goes in the same write.
    std::string body;
    bool whole = false;
    if (job_.body) {
      body = *job_.body;
      whole = true;
    } else {
      // A small body (a GET's empty one) is read whole first, even if its
      // last record has not arrived yet: it goes with the params and is kept
      // for sending again (see worker_job::body). Anything else streams.
      while ((job_.small_body || io_->stdin_complete()) && body.size() <= worker_protocol::small_body_bytes) {
        std::string chunk = co_await io_->read_stdin();
        if (chunk.empty()) {
          whole = true;
          break;
        }
        body += chunk;
      }
      if (whole) job_.body = body;
    }
    if (stop_.stop_requested()) co_return;
    // From here to the send, nothing suspends: a stop sees either no place
    // (nothing sent) or the records queued (its ABORT_REQUEST goes after them).
    place_ = link_.open(inbox_);
    if (!place_) co_return;
    const auto id = place_->id;
    protocol::name_value_list params = io_->params();
    params.push_back({std::string(worker_protocol::handler_param), job_.handler});
    std::string records;
    protocol::append_begin_request(records, id, protocol::role::responder, true);
    protocol::append_params(records, id, params);
    if (!body.empty()) protocol::append_stream(records, protocol::record_type::std_in, id, body);
    if (whole) {
      protocol::append_stream_end(records, protocol::record_type::std_in, id);
      stdin_done_ = true;
    }
    link_.send(std::move(records));
  }

  // Never throws: a failed write shows as the worker gone, on the output side.
  asio::awaitable<void> pump_stdin() {
    while (!stdin_done_) {
      std::string chunk = co_await io_->read_stdin();
      if (ended_ || stop_handled_ || stop_.stop_requested()) co_return;
      std::string records;
      if (chunk.empty())
        protocol::append_stream_end(records, protocol::record_type::std_in, place_->id);
      else
        protocol::append_stream(records, protocol::record_type::std_in, place_->id, chunk);
      if (!co_await link_.send_and_wait(std::move(records))) co_return;
      if (chunk.empty()) stdin_done_ = true;
    }
  }

  // What the worker sends for this request, until it ends or the worker is gone.
  asio::awaitable<void> pump_output() {
    while (!ended_) {
      auto received = co_await inbox_->receive();
      if (!received) throw std::runtime_error("waiting for the worker: its events were closed");
      auto& got = *received;
      switch (got.type) {
        case worker_link::event::kind::out:
        case worker_link::event::kind::err:
          if (stop_handled_) break;  // its request is over
          if (!co_await io_->write(got.type == worker_link::event::kind::out ? output_stream::out : output_stream::err,
                                   got.bytes))
            stopped();  // the request is over
          break;
        case worker_link::event::kind::end:
          ended_ = true;
          run_us_ = got.run_us;
          if (stop_handled_) {
            log_->debug("{}: returned after its request was stopped", describe());
          } else {
            worker_outcome outcome;
            outcome.result.app_status = static_cast<int>(got.app_status);
            outcome.result.last_stdout = std::move(got.bytes);
            outcome.result.last_stderr = std::move(got.err_bytes);
            outcome.result.verdict = got.verdict;
            deliver(std::move(outcome));
          }
          break;
        case worker_link::event::kind::gone:
          ended_ = gone_ = true;
          worker_gone(std::move(got));
          break;
      }
    }
  }

  // The first outcome told is the run's.
  void deliver(worker_outcome outcome) {
    if (!outcome_) outcome_ = std::move(outcome);
  }

  void deliver_not_started() {
    worker_outcome outcome;
    outcome.not_started = true;
    outcome.job = std::move(job_);
    deliver(std::move(outcome));
  }

  void worker_gone(worker_link::event gone) {
    if (!gone.started) {
      if (!stop_handled_) deliver_not_started();
      return;
    }
    std::string report = describe() + " " + gone.report;
    if (stop_handled_) {
      if (gone.crashed) log_->warn("{} while its request was being stopped", report);
      return;
    }
    report += " in the middle of the request";
    if (!gone.frames.empty()) report += "; backtrace of the crashing thread:";
    log_->error("{}", report);
    for (const auto& frame : gone.frames) log_->error("  {}", frame);
    worker_outcome outcome;
    outcome.result.crashed = true;
    outcome.result.failure = report;
    for (const auto& frame : gone.frames) outcome.result.failure += "\n  " + frame;
    deliver(std::move(outcome));
  }

  worker_lease lease_;
  worker_job job_;
  const std::shared_ptr<request_io> io_;
  const std::stop_token stop_;
  const std::shared_ptr<spdlog::logger> log_;
  std::optional<worker_outcome> outcome_;
  const asio::any_io_executor executor_;
  worker_link& link_;  // the lease's, which keeps it
  const std::shared_ptr<worker_link::inbox> inbox_;
  std::shared_ptr<worker_link::request> place_;
  std::int64_t run_us_ = -1;  // how long the handler ran, as the worker told
  bool stdin_done_ = false;
  bool ended_ = false;
  bool gone_ = false;          // the worker died or was killed
  bool stop_handled_ = false;  // the request was stopped: the worker was told
};

}  // namespace

asio::awaitable<worker_outcome> run_in_worker(worker_lease lease, worker_job job, std::shared_ptr<request_io> io,
                                              std::stop_token stop, std::shared_ptr<spdlog::logger> log) {
  auto exchange = std::make_shared<worker_exchange>(std::move(lease), std::move(job), std::move(io), std::move(stop),
                                                    std::move(log));
  auto outcome = co_await exchange->run();
  if (!outcome) throw boost::system::system_error(asio::error::operation_aborted, "the run in the worker was stopped");
  co_return std::move(*outcome);
}

}  // namespace fcgihost::runners
