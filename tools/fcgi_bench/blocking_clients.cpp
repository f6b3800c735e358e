#include "blocking_clients.hpp"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <optional>
#include <thread>

#include <fcgihost/protocol/message_decoder.hpp>
#include <fcgihost/protocol/response_status.hpp>

namespace fcgihost::bench {

using clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;
// A client that cannot connect this many times in a row gives up.
constexpr int connect_attempts = 3;
// After the deadline, clients still inside a call are interrupted again this
// often: a signal that lands just before a thread enters read() is lost.
constexpr auto stop_repeat = std::chrono::milliseconds(10);

// The signal that interrupts a client's blocking call: its handler does
// nothing and is installed without SA_RESTART, so the call returns EINTR and
// the client looks at the clock and the budget.
constexpr int interrupt_signal = SIGUSR1;

void install_interrupt_handler() {
  struct sigaction action {};
  action.sa_handler = [](int) {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  ::sigaction(interrupt_signal, &action, nullptr);
}

std::int64_t ticks(clock::time_point when) { return when.time_since_epoch().count(); }

}  // namespace

bool use_blocking_clients(const bench_options& options, std::size_t depth) {
  if (options.engine != load_engine::automatic) return options.engine == load_engine::blocking;
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return depth == 1 && options.body_size == 0 && options.connections <= cores;
}

struct blocking_clients::client {
  std::thread thread;
  // When the request in flight started (clock ticks), 0 between requests:
  // read by the watching thread to find requests past --timeout.
  std::atomic<std::int64_t> request_started{0};
  std::atomic<bool> finished{false};  // drive() has returned
  std::optional<protocol::message_decoder> decoder;  // one per connection
  bench_results results;
};

blocking_clients::blocking_clients(const bench_options& options, shared_budget& budget)
    : options_(options), budget_(budget), request_head_(encode_request_head(options, 1)), connector_(options.address) {
  for (std::size_t i = 0; i < options.connections; ++i) clients_.push_back(std::make_unique<client>());
}

blocking_clients::~blocking_clients() = default;

void blocking_clients::run() {
  install_interrupt_handler();
  running_ = clients_.size();
  for (auto& each : clients_) each->thread = std::thread([this, &self = *each] { drive(self); });
  watch();
  for (auto& each : clients_) each->thread.join();
}

bench_results blocking_clients::results() const {
  bench_results all;
  for (const auto& each : clients_) all.merge(each->results);
  return all;
}

// Until every client has finished: ends the run at the deadline and
// interrupts requests past --timeout, checking every tenth of the timeout.
void blocking_clients::watch() {
  const bool timed = options_.timeout.count() > 0;
  const auto tick = timed ? std::max<clock::duration>(std::chrono::milliseconds(1), options_.timeout / 10)
                          : clock::duration(std::chrono::seconds(1));
  std::unique_lock lock(mutex_);
  while (running_ > 0) {
    auto next = clock::now() + (budget_.stopping() ? stop_repeat : tick);
    if (!budget_.stopping() && budget_.deadline() < next) next = budget_.deadline();
    if (finished_.wait_until(lock, next, [this] { return running_ == 0; })) return;

    if (!budget_.stopping() && clock::now() >= budget_.deadline()) budget_.stop();
    const auto late_if_before = ticks(clock::now() - options_.timeout);
    for (auto& each : clients_) {
      // Only saves a signal: a thread that has ended but is not joined yet
      // may still be signalled.
      if (each->finished.load()) continue;
      const auto started = each->request_started.load(std::memory_order_relaxed);
      if (budget_.stopping() || (timed && started != 0 && started <= late_if_before))
        ::pthread_kill(each->thread.native_handle(), interrupt_signal);
    }
  }
}

void blocking_clients::drive(client& self) {
  const auto buffer = std::make_unique_for_overwrite<char[]>(read_buffer_size);
  int fd = -1;
  int failures = 0;
  // A connection is made for a request already taken from the budget, so
  // none is opened only to find the budget spent.
  while (budget_.take()) {
    if (fd < 0) {
      fd = connect_once();
      if (fd < 0) {
        if (budget_.stopping()) break;  // interrupted at the deadline
        ++self.results.connect_errors;
        ++budget_.failed;
        if (++failures >= connect_attempts) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      failures = 0;
      self.decoder.emplace();
    }
    if (!exchange(fd, self, buffer.get()) || !options_.keep_conn) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) ::close(fd);
  self.finished = true;
  std::lock_guard lock(mutex_);
  if (--running_ == 0) finished_.notify_one();
}

// A connected blocking socket, or -1 with the reason noted in the budget.
int blocking_clients::connect_once() {
  std::string why;
  const int fd = connector_.connect(why);
  if (fd < 0) budget_.note_connect_failure(why);
  return fd;
}

// After a call returned EINTR: true to make it again. False when the run is
// over (the request is not counted) or the request is past --timeout
// (counted; its connection must be closed).
bool blocking_clients::may_go_on(client& self, clock::time_point started) {
  if (budget_.stopping()) return false;
  if (options_.timeout.count() == 0 || clock::now() - started < options_.timeout) return true;
  ++self.results.timeouts;
  ++budget_.failed;
  return false;
}

// One request on `fd`, answered or failed and counted either way. False when
// the connection cannot carry another request.
bool blocking_clients::exchange(int fd, client& self, char* buffer) {
  const auto started = clock::now();
  self.request_started.store(ticks(started), std::memory_order_relaxed);
  struct idle_on_return {
    client& self;
    ~idle_on_return() { self.request_started.store(0, std::memory_order_relaxed); }
  } idle{self};
  // The server closed or failed the connection under a request of ours,
  // unless the run is over.
  const auto reset = [&] {
    if (budget_.stopping()) return false;
    ++self.results.resets;
    ++budget_.failed;
    return false;
  };

  for (std::size_t sent = 0; sent < request_head_.size();) {
    const auto count = ::send(fd, request_head_.data() + sent, request_head_.size() - sent, MSG_NOSIGNAL);
    if (count >= 0) {
      sent += static_cast<std::size_t>(count);
    } else if (errno != EINTR) {
      return reset();
    } else if (!may_go_on(self, started)) {
      return false;
    }
  }
  self.results.bytes_out += request_head_.size();

  protocol::response_status status;
  bool answered = false;
  while (!answered) {
    const auto count = ::read(fd, buffer, read_buffer_size);
    if (count == 0 || (count < 0 && errno != EINTR)) return reset();
    if (count < 0) {
      if (!may_go_on(self, started)) return false;
      continue;
    }
    // The whole input is decoded, also after END_REQUEST, so the decoder
    // stays in step with the connection.
    const auto protocol_error =
        self.decoder->put_all(std::string_view(buffer, static_cast<std::size_t>(count)), [&](auto& message) {
          if (const auto* data = std::get_if<protocol::message::stream_data>(&message)) {
            self.results.bytes_in += data->bytes.size();
            if (data->stream == protocol::record_type::std_out && data->request_id == 1) status.feed(data->bytes);
          } else if (const auto* end = std::get_if<protocol::message::end_request>(&message);
                     end && end->request_id == 1 && !answered) {
            answered = true;
            const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started);
            ++budget_.completed;
            if (!self.results.count_answer(elapsed, end->protocol_status, status.status())) ++budget_.failed;
          }
        });
    if (protocol_error) {
      ++self.results.protocol_errors;
      ++budget_.failed;
      return false;
    }
  }
  return true;
}

}  // namespace fcgihost::bench
