#include "worker_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <optional>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>
#include <fcgihost/protocol/stream_framing.hpp>

#include "crash_report.hpp"
#include "exception_text.hpp"
#include "worker_protocol.hpp"

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::uint16_t request_id = 1;  // a worker runs one request at a time
constexpr std::size_t read_buffer_size = 64 * 1024;
// Body bytes sent along with the params when the whole body is already here.
constexpr std::size_t body_sent_with_params = 64 * 1024;
// Output read and dropped after a request was stopped before its worker is
// killed instead: reading megabytes a flooding handler had queued would take
// the host's I/O thread from requests that are still running.
constexpr std::size_t most_discarded = 64 * 1024;
// How long a worker whose connection failed gets to finish dying, for its exit status.
constexpr auto death_wait = std::chrono::milliseconds(1000);

using done_channel = asio::experimental::channel<void(error_code, run_result)>;

class worker_exchange : public std::enable_shared_from_this<worker_exchange> {
 public:
  worker_exchange(worker_lease lease, std::string handler, std::shared_ptr<request_io> io, std::stop_token stop,
                  std::chrono::milliseconds kill_grace, std::shared_ptr<spdlog::logger> log,
                  std::shared_ptr<done_channel> done)
      : lease_(std::move(lease)),
        handler_(std::move(handler)),
        io_(std::move(io)),
        stop_(std::move(stop)),
        kill_grace_(kill_grace),
        log_(std::move(log)),
        done_(std::move(done)),
        executor_(io_->executor()),
        write_lock_(executor_, 1),
        buffer_(lease_.read_buffer()) {
    if (buffer_.size() != read_buffer_size) buffer_.resize(read_buffer_size);
  }

  asio::awaitable<void> run() {
    auto self = shared_from_this();
    // The stop token fires on the request's strand (the request ends there),
    // so this runs at once: the worker drops to idle CPU priority at the
    // moment its request is over, before the host writes its 408, so that a
    // burst of busy workers stopped together never delays the host's answers.
    std::stop_callback on_stop(stop_, [weak = weak_from_this(), executor = executor_] {
      asio::dispatch(executor, [weak] {
        auto exchange = weak.lock();
        if (!exchange || exchange->ended_) return;
        exchange->lease_.process().demote();
        exchange->stop_seen_ = true;
        // Cancels the read the output pump waits in, if any. Not a race of
        // the read against a notice (operator||): a read that completed at
        // the same moment would lose its bytes, END_REQUEST among them.
        exchange->read_cancel_.emit(asio::cancellation_type::terminal);
      });
    });
    bool worker_failed = false;
    std::string failure;
    try {
      co_await send_request();
      co_await (pump_stdin() && pump_output());
    } catch (const std::exception& e) {
      worker_failed = true;
      failure = e.what();
    }
    if (link_broken_) worker_failed = true;
    if (worker_failed && !ended_) co_await report_failure(failure);
    done_->close();  // a run that delivered nothing fails (it was stopped, or the host failed)
    // The worker is free only when both ways are quiet: a stale FCGI_STDIN
    // record must never reach the next request on it.
    if (ended_ && !worker_failed && !dirty_) {
      lease_.finished();
    }
    // Otherwise the lease is dropped: the worker is killed and replaced.
  }

 private:
  std::string describe() const {
    return "worker " + std::to_string(lease_pid_) + " of plugin " + plugin_ + " (handler " + handler_ + ")";
  }

  asio::awaitable<void> send_request() {
    auto& process = lease_.process();
    lease_pid_ = process.pid();
    plugin_ = lease_.plugin();
    io_->note_worker(lease_pid_);
    protocol::name_value_list params = io_->params();
    params.push_back({std::string(worker_protocol::handler_param), handler_});
    std::string records;
    protocol::append_begin_request(records, request_id, protocol::role::responder, true);
    protocol::append_params(records, request_id, params);
    // A GET's empty body, or a small body already here, goes in the same write.
    while (io_->stdin_complete() && records.size() < body_sent_with_params) {
      std::string chunk = co_await io_->read_stdin();
      if (chunk.empty()) {
        protocol::append_stream_end(records, protocol::record_type::std_in, request_id);
        stdin_done_ = true;
        break;
      }
      protocol::append_stream(records, protocol::record_type::std_in, request_id, chunk);
    }
    co_await asio::async_write(process.socket(), asio::buffer(records), asio::use_awaitable);
  }

  // Never throws: a failed write shows as the worker's failure on the read side.
  asio::awaitable<void> pump_stdin() {
    while (!stdin_done_) {
      std::string chunk = co_await io_->read_stdin();
      if (ended_ || stopping_ || stop_.stop_requested()) co_return;
      std::string records;
      if (chunk.empty())
        protocol::append_stream_end(records, protocol::record_type::std_in, request_id);
      else
        protocol::append_stream(records, protocol::record_type::std_in, request_id, chunk);
      auto [lock_failed] = co_await write_lock_.async_send(error_code{}, asio::as_tuple(asio::use_awaitable));
      if (lock_failed) co_return;
      auto [ec, written] =
          co_await asio::async_write(lease_.process().socket(), asio::buffer(records), asio::as_tuple(asio::use_awaitable));
      write_lock_.try_receive([](error_code) {});
      if (ec) {
        link_broken_ = true;
        co_return;
      }
      if (chunk.empty()) stdin_done_ = true;
    }
  }

  // Reads what the worker sends until END_REQUEST; stops the worker when
  // the request is stopped.
  asio::awaitable<void> pump_output() {
    auto& socket = lease_.process().socket();
    while (!ended_) {
      if (stopping_) {
        co_await stop_worker();
        co_return;
      }
      if (stop_seen_) {
        stopping_ = true;
        continue;
      }
      auto [ec, n] = co_await socket.async_read_some(
          asio::buffer(buffer_), asio::bind_cancellation_slot(read_cancel_.slot(), asio::as_tuple(asio::use_awaitable)));
      if (n > 0) co_await take_output(n);  // what was read counts, even if the stop came with it
      if (ec == asio::error::operation_aborted && stop_seen_) continue;
      if (ec) throw boost::system::system_error(ec, "reading from the worker");
    }
  }

  // Decodes one read. Output that arrives with END_REQUEST goes out with
  // the host's own END_REQUEST in one write (a small response in one piece).
  asio::awaitable<void> take_output(std::size_t count) {
    pending_.clear();
    std::optional<std::uint32_t> app_status;
    const auto bad = decoder_.put_all(std::string_view(buffer_.data(), count), [&](protocol::decoded_message& decoded) {
      if (auto* data = std::get_if<protocol::message::stream_data>(&decoded)) {
        if (data->request_id != request_id || data->bytes.empty()) return;
        if (stopping_) {  // its request is over: counted, not kept
          discarded_ += data->bytes.size();
          return;
        }
        const auto stream = data->stream == protocol::record_type::std_err ? output_stream::err : output_stream::out;
        if (!pending_.empty() && pending_.back().first == stream)
          pending_.back().second.append(data->bytes);
        else
          pending_.emplace_back(stream, std::string(data->bytes));
      } else if (auto* end = std::get_if<protocol::message::end_request>(&decoded)) {
        if (end->request_id == request_id) app_status = end->app_status;
      }
    });
    if (bad) throw std::runtime_error("the worker sent a broken record: " + bad.message());
    if (app_status) {
      ended_ = true;
      if (stopping_) co_return;  // its request is over: nothing goes anywhere
      run_result result;
      result.app_status = static_cast<int>(*app_status);
      for (auto& [stream, bytes] : pending_) (stream == output_stream::out ? result.last_stdout : result.last_stderr) += bytes;
      done_->try_send(error_code{}, std::move(result));
      co_return;
    }
    if (stopping_) co_return;
    for (auto& [stream, bytes] : pending_) {
      if (!co_await io_->write(stream, bytes)) {  // the request is over
        stopping_ = true;
        co_return;
      }
    }
  }

  // ABORT_REQUEST, then the kill grace for the handler to return.
  asio::awaitable<void> stop_worker() {
    lease_.condemn();
    asio::steady_timer grace(executor_, kill_grace_);
    auto& socket = lease_.process().socket();
    auto locked = co_await (write_lock_.async_send(error_code{}, asio::as_tuple(asio::use_awaitable)) ||
                            grace.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (locked.index() == 0) {
      std::string abort;
      protocol::append_abort_request(abort, request_id);
      auto sent = co_await (asio::async_write(socket, asio::buffer(abort), asio::as_tuple(asio::use_awaitable)) ||
                            grace.async_wait(asio::as_tuple(asio::use_awaitable)));
      write_lock_.try_receive([](error_code) {});
      if (sent.index() != 0 || std::get<0>(std::get<0>(sent))) dirty_ = true;
      while (!ended_ && !dirty_ && discarded_ <= most_discarded) {
        auto got = co_await (socket.async_read_some(asio::buffer(buffer_), asio::as_tuple(asio::use_awaitable)) ||
                             grace.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (got.index() != 0) break;
        auto [ec, n] = std::get<0>(got);
        if (ec) {
          link_broken_ = true;
          break;
        }
        co_await take_output(n);
      }
    } else {
      dirty_ = true;
    }
    if (ended_ && !dirty_) {
      log_->debug("{}: returned after its request was stopped", describe());
      co_return;
    }
    dirty_ = true;
    if (!link_broken_ && discarded_ > most_discarded) {
      log_->info("{}: its request was stopped with more than {} KiB of output still coming; the worker is "
                 "replaced rather than read to its end", describe(), most_discarded / 1024);
      lease_.process().kill();
    } else if (!link_broken_) {
      log_->warn("{}: the handler did not return within {} ms of its request being stopped; the worker is killed",
                 describe(), kill_grace_.count());
      lease_.process().kill();
    }
    co_await lease_.process().wait_for_exit(death_wait);
  }

  asio::awaitable<void> report_failure(const std::string& why) {
    auto& process = lease_.process();
    co_await process.wait_for_exit(death_wait);
    std::string report = describe() + " " + process.exit_description();
    const bool crashed = process.crashed();
    if (!crashed && !why.empty()) report += " (" + why + ")";
    std::vector<std::string> frames;
    if (crashed) frames = symbolised_frames(parse_crash_dump(process.take_crash_dump()));
    if (stopping_) {
      log_->warn("{} while its request was being stopped", report);
      co_return;
    }
    report += " in the middle of the request";
    if (!frames.empty()) report += "; backtrace of the crashing thread:";
    log_->error("{}", report);
    for (const auto& frame : frames) log_->error("  {}", frame);
    run_result result;
    result.crashed = true;
    result.failure = report;
    for (const auto& frame : frames) result.failure += "\n  " + frame;
    done_->try_send(error_code{}, std::move(result));
  }

  worker_lease lease_;
  const std::string handler_;
  const std::shared_ptr<request_io> io_;
  const std::stop_token stop_;
  const std::chrono::milliseconds kill_grace_;
  const std::shared_ptr<spdlog::logger> log_;
  const std::shared_ptr<done_channel> done_;
  const asio::any_io_executor executor_;
  // A one-slot channel used as a mutex: ABORT_REQUEST never cuts into a
  // body record being written.
  asio::experimental::channel<void(error_code)> write_lock_;
  asio::cancellation_signal read_cancel_;  // the output pump's read, on a stop
  bool stop_seen_ = false;
  std::string& buffer_;  // the worker's own (see worker_lease::read_buffer)
  protocol::message_decoder decoder_;
  std::vector<std::pair<output_stream, std::string>> pending_;
  std::size_t discarded_ = 0;  // output read after the request was stopped
  int lease_pid_ = 0;
  std::string plugin_;
  bool stdin_done_ = false;
  bool ended_ = false;
  bool stopping_ = false;
  bool dirty_ = false;        // a record to the worker may have been cut: never reuse it
  bool link_broken_ = false;  // writing to the worker failed
};

}  // namespace

asio::awaitable<run_result> run_in_worker(worker_lease lease, std::string handler, std::shared_ptr<request_io> io,
                                          std::stop_token stop, std::chrono::milliseconds kill_grace,
                                          std::shared_ptr<spdlog::logger> log) {
  auto executor = io->executor();
  auto done = std::make_shared<done_channel>(executor, 1);
  auto exchange = std::make_shared<worker_exchange>(std::move(lease), std::move(handler), std::move(io),
                                                    std::move(stop), kill_grace, log, done);
  // Not cancelled with the request: it goes on to stop the worker.
  asio::co_spawn(executor, exchange->run(), [log](std::exception_ptr failure) {
    if (failure) log->error("a worker exchange failed inside the host: {}", exception_text(failure));
  });
  auto [ec, result] = co_await done->async_receive(asio::as_tuple(asio::use_awaitable));
  if (ec) throw boost::system::system_error(ec);
  co_return result;
}

}  // namespace fcgihost::runners
