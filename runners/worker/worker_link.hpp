// The host's end of one worker's FastCGI connection, shared by the requests
// sent to that worker. It owns the worker process and its socket: every write
// goes out in order from the link's strand, one reader decodes what the
// worker sends and hands each request its output through a channel, with
// backpressure (the socket is not read while the request at the front of the
// worker's line cannot take more).
//
// A worker runs its requests one at a time, in the order they were sent (its
// run_order), so the link knows which request a worker is running: the
// oldest one sent that has not ended. Several quick requests may therefore be
// sent at once (pipelined): each wakeup of the worker, and of the host, then
// serves several requests. When the worker dies, the request it was running
// is told so with the exit status and backtrace; the ones behind it are told
// they never started, so they can be run by another worker.
//
// The link also reaps its worker: it waits for the exit once the socket
// closes, and kills a worker that was asked to leave and did not.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <mutex>
#include <string>
#include <vector>

#include <runners/common/run_result.hpp>
#include <runners/worker/event_mailbox.hpp>
#include <runners/worker/worker_process.hpp>

namespace fcgihost::runners {

class worker_link : public std::enable_shared_from_this<worker_link> {
 public:
  struct event {
    enum class kind { out, err, end, gone };
    kind type = kind::gone;
    std::string bytes;             // out, err; end: stdout that came with it
    std::string err_bytes;         // end: stderr that came with it
    std::uint32_t app_status = 0;  // end
    std::int64_t run_us = -1;      // end: how long its handler ran, as the worker measured (-1: not told)
    handler_verdict verdict = handler_verdict::none;  // end: what the worker said of its handler
    // gone: the worker died or was killed. `started`: this request was the
    // one it was running (else it never began there); `report`: how it
    // died ("killed by SIGSEGV (...)"), and `frames` the backtrace of the
    // crashing thread when it crashed.
    bool started = false;
    bool crashed = false;
    std::string report;
    std::vector<std::string> frames;

    static event of(kind type, std::string bytes = {}) {
      event made;
      made.type = type;
      made.bytes = std::move(bytes);
      return made;
    }
  };
  using inbox = event_mailbox<event>;

  // A request's place on the link.
  struct request {
    std::uint16_t id = 0;
    std::shared_ptr<inbox> events;
    // Under the link's mutex:
    bool aborted = false;  // ABORT_REQUEST sent: its output is dropped
    std::chrono::milliseconds grace{0};
    std::size_t dropped = 0;  // output read after the abort (on the strand)
    std::int64_t run_us = -1;  // told by the worker just before the end (on the strand)
    handler_verdict verdict = handler_verdict::none;  // likewise
  };

  // `symboliser`: where a crash dump is symbolised, off the I/O threads.
  worker_link(boost::asio::any_io_executor strand, boost::asio::any_io_executor symboliser,
              std::unique_ptr<worker_process> process, std::shared_ptr<spdlog::logger> log, std::string describe);
  ~worker_link();

  // Starts reading. Once, after the handshake.
  void start();
  // Where to count the kills of a worker whose handler did not return
  // within the kill grace of its stopped request. Before start().
  void count_kills_in(std::atomic<std::uint64_t>& kills) { kills_after_stop_ = &kills; }

  worker_process& process() { return *process_; }
  int pid() const { return pid_; }
  // The worker's connection is closed (it died, or was killed or closed).
  bool dead() const { return dead_.load(std::memory_order_acquire); }

  // A place for one more request, in the order requests are sent; null when
  // the worker is gone. `events` must be able to hold a few events.
  std::shared_ptr<request> open(std::shared_ptr<inbox> events);
  // Queues records for the worker (written in the order queued, from any thread).
  void send(std::string records);
  // Queues records and completes once they are written (backpressure for a
  // streamed body); false if the worker is gone.
  boost::asio::awaitable<bool> send_and_wait(std::string records);
  // The request was stopped: ABORT_REQUEST goes to the worker and its output
  // is dropped from now on. If the worker is running it (now, or later when
  // its turn comes) and it has not ended within `grace`, the worker is
  // killed. Returns whether the worker is running it now.
  bool abort(const std::shared_ptr<request>& which, std::chrono::milliseconds grace);
  // Kills the worker (it is broken, or took too long); the requests on it are told.
  void kill(std::string why);
  // Asks the worker to leave (closes its end of the socket); it is killed
  // if it has not left within `grace`.
  void close(std::chrono::milliseconds grace);
  // The backtrace of its handler thread now, symbolised (see
  // handler_stack_dump); empty when no handler runs or the worker did not
  // answer within `limit`. Run it on the link's strand.
  boost::asio::awaitable<std::vector<std::string>> handler_stack(std::chrono::milliseconds limit);
  const boost::asio::any_io_executor& strand() const { return strand_; }

 private:
  boost::asio::awaitable<void> read_loop();
  bool take_batch(std::string& batch);  // under no lock
  bool write_without_waiting();
  boost::asio::awaitable<void> write_pending();
  // The request now at the front: arms its grace timer if it was aborted.
  void front_changed_locked();
  boost::asio::awaitable<void> tell_everyone_gone();

  const boost::asio::any_io_executor strand_;
  const boost::asio::any_io_executor symboliser_;
  const std::unique_ptr<worker_process> process_;
  const std::shared_ptr<spdlog::logger> log_;
  const std::string describe_;  // "worker 123 of plugin hello"
  const int pid_;
  std::atomic<bool> dead_{false};

  std::mutex mutex_;
  std::deque<std::shared_ptr<request>> line_;  // in the order sent; the front is running
  std::uint16_t next_id_ = 1;
  std::string outgoing_;
  bool writing_ = false;
  bool write_failed_ = false;
  std::uint64_t queued_bytes_ = 0;  // ever queued, and written: for send_and_wait
  std::uint64_t written_bytes_ = 0;
  boost::asio::steady_timer written_;    // cancelled after each write (wakes send_and_wait)
  boost::asio::steady_timer grace_timer_;  // the aborted front request's grace, on the strand
  std::shared_ptr<request> graced_;        // the request the grace timer is for
  std::string kill_reason_;  // set when the host killed it
  std::atomic<std::uint64_t>* kills_after_stop_ = nullptr;
};

}  // namespace fcgihost::runners
