#include "worker_link.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include <runners/worker/crash_report.hpp>
#include <runners/worker/worker_protocol.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;
using error_code = boost::system::error_code;

namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;
// Output read and dropped after a request was stopped before its worker is
// killed instead: reading megabytes a flooding handler had queued would take
// the host's I/O thread from requests that are still running.
constexpr std::size_t most_discarded = 64 * 1024;
// How long a worker whose connection closed gets to finish dying, for its exit status.
constexpr auto death_wait = std::chrono::milliseconds(1000);

// A worker's report of a run, "ID MICROSECONDS OUTCOME" (the outcome may be
// missing); nothing when it is anything else. Parsed per request, so
// from_chars, not sscanf.
struct run_report {
  std::uint16_t request_id = 0;
  long long run_us = -1;
  handler_verdict verdict = handler_verdict::none;
};

std::optional<run_report> parse_run_report(std::string_view text) {
  const char* const end = text.data() + text.size();
  unsigned id = 0;
  run_report report;
  const auto [after_id, id_error] = std::from_chars(text.data(), end, id);
  if (id_error != std::errc() || id > 0xffff || after_id == end || *after_id != ' ') return std::nullopt;
  const auto [after_us, us_error] = std::from_chars(after_id + 1, end, report.run_us);
  // -1: the handler never ran; no other negative time is a real one.
  if (us_error != std::errc() || report.run_us < -1) return std::nullopt;
  report.request_id = static_cast<std::uint16_t>(id);
  const std::string_view said = after_us != end && *after_us == ' ' ? std::string_view(after_us + 1, end) : "";
  report.verdict = said == "failed"         ? handler_verdict::failed
                   : said == "bad_response" ? handler_verdict::bad_response
                                            : handler_verdict::none;
  return report;
}

}  // namespace

worker_link::worker_link(asio::any_io_executor strand, asio::any_io_executor symboliser,
                         std::unique_ptr<worker_process> process, std::shared_ptr<spdlog::logger> log,
                         std::string describe)
    : strand_(std::move(strand)),
      symboliser_(std::move(symboliser)),
      process_(std::move(process)),
      log_(std::move(log)),
      describe_(std::move(describe)),
      pid_(process_->pid()),
      written_(strand_, std::chrono::steady_clock::time_point::max()),
      grace_timer_(strand_) {}

worker_link::~worker_link() = default;

void worker_link::start() {
  error_code ignored;
  process_->socket().non_blocking(true, ignored);  // for write_pending's first try
  asio::co_spawn(strand_, read_loop(), [log = log_](std::exception_ptr failure) {
    if (failure) log->error("reading from a worker failed inside the host");
  });
}

std::shared_ptr<worker_link::request> worker_link::open(std::shared_ptr<inbox> events) {
  std::lock_guard lock(mutex_);
  if (dead()) return nullptr;
  auto placed = std::make_shared<request>();
  placed->events = std::move(events);
  // Ids in use are few (the requests in this worker's line).
  do {
    placed->id = next_id_++;
    if (next_id_ == 0) next_id_ = 1;
  } while (std::any_of(line_.begin(), line_.end(), [&](const auto& other) { return other->id == placed->id; }));
  line_.push_back(placed);
  return placed;
}

void worker_link::send(std::string records) {
  {
    std::lock_guard lock(mutex_);
    if (write_failed_) return;
    outgoing_ += records;
    queued_bytes_ += records.size();
    if (writing_) return;
    writing_ = true;
  }
  // Posted, not started here: requests sent to this worker from the same
  // burst (one read of a web server's connection) go in one write, and the
  // worker is woken once for them.
  asio::post(strand_, [self = shared_from_this()] {
    if (!self->write_without_waiting())
      asio::co_spawn(self->strand_, self->write_pending(), asio::detached);
  });
}

// The next batch to write: all that is queued (several requests' records,
// often, in one write). False, with the writer done, when nothing is left.
bool worker_link::take_batch(std::string& batch) {
  std::lock_guard lock(mutex_);
  if (outgoing_.empty() || write_failed_) {
    writing_ = false;
    outgoing_.clear();
    return false;
  }
  batch.clear();
  batch.swap(outgoing_);
  return true;
}

// What is queued, written at once while the socket takes it: a write that
// completes at once still completes through the event loop in Asio 1.81 (a
// post, a poll of the reactor), and most batches fit the socket's buffer.
// False when the socket is full: what is left waits for write_pending().
bool worker_link::write_without_waiting() {
  std::string batch;
  while (take_batch(batch)) {
    error_code ec;
    std::size_t done = process_->socket().write_some(asio::buffer(batch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec.clear();
      done = 0;
    }
    bool rest_waits = false;
    {
      std::lock_guard lock(mutex_);
      written_bytes_ += done;
      if (ec) {
        write_failed_ = true;  // the reader sees the closed socket and tells the requests
      } else if (done < batch.size()) {
        outgoing_.insert(0, batch, done);  // first in line, before what came meanwhile
        rest_waits = true;
      }
    }
    written_.cancel();  // wakes send_and_wait
    if (rest_waits) return false;
  }
  return true;
}

asio::awaitable<void> worker_link::write_pending() {
  auto self = shared_from_this();
  std::string batch;
  while (take_batch(batch)) {
    auto [ec, n] = co_await asio::async_write(process_->socket(), asio::buffer(batch), asio::as_tuple(asio::use_awaitable));
    {
      std::lock_guard lock(mutex_);
      written_bytes_ += batch.size();
      if (ec) write_failed_ = true;  // the reader sees the closed socket and tells the requests
    }
    written_.cancel();  // wakes send_and_wait
  }
}

asio::awaitable<bool> worker_link::send_and_wait(std::string records) {
  std::uint64_t target = 0;
  {
    std::lock_guard lock(mutex_);
    target = queued_bytes_ + records.size();
  }
  send(std::move(records));
  // Named, not a temporary in the co_await: g++ 12 destroys a temporary
  // closure there twice (and with it the link's last reference).
  auto wait_until_written = [self = shared_from_this(), target]() -> asio::awaitable<bool> {
    while (true) {
      {
        std::lock_guard lock(self->mutex_);
        if (self->write_failed_ || self->dead()) co_return false;
        if (self->written_bytes_ >= target) co_return true;
      }
      co_await self->written_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
  // Not cancellable (see plugin_loading.cpp: cancelling a co_spawn onto
  // another executor can touch freed memory in Boost 1.81); it ends with
  // the write or the worker anyway.
  auto written = asio::co_spawn(strand_, std::move(wait_until_written),
                                asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  co_return co_await std::move(written);
}

bool worker_link::abort(const std::shared_ptr<request>& which, std::chrono::milliseconds grace) {
  bool running = false;
  {
    std::lock_guard lock(mutex_);
    if (which->aborted || std::find(line_.begin(), line_.end(), which) == line_.end()) return false;
    which->aborted = true;
    which->grace = grace;
    running = line_.front() == which;
  }
  std::string record;
  protocol::append_abort_request(record, which->id);
  send(std::move(record));
  if (running) asio::post(strand_, [self = shared_from_this()] {
    std::lock_guard lock(self->mutex_);
    self->front_changed_locked();
  });
  return running;
}

void worker_link::front_changed_locked() {
  if (line_.empty() || !line_.front()->aborted || graced_ == line_.front() || dead()) return;
  graced_ = line_.front();
  grace_timer_.expires_after(graced_->grace);
  grace_timer_.async_wait([self = shared_from_this(), which = graced_](error_code ec) {
    if (ec) return;
    std::lock_guard lock(self->mutex_);
    if (self->line_.empty() || self->line_.front() != which || self->dead()) return;
    self->log_->warn("{}: the handler did not return within {} ms of its request being stopped; the worker is "
                     "killed", self->describe_, which->grace.count());
    self->kill_reason_ = "its handler ignored the stop";
    if (self->kills_after_stop_) self->kills_after_stop_->fetch_add(1, std::memory_order_relaxed);
    self->process_->kill();
  });
}

void worker_link::kill(std::string why) {
  asio::post(strand_, [self = shared_from_this(), why = std::move(why)] {
    if (self->dead()) return;
    self->kill_reason_ = why;
    self->process_->kill();
  });
}

void worker_link::close(std::chrono::milliseconds grace) {
  asio::co_spawn(strand_, [self = shared_from_this(), grace]() -> asio::awaitable<void> {
    error_code ignored;
    self->process_->socket().shutdown(asio::socket_base::shutdown_send, ignored);
    asio::steady_timer limit(self->strand_, grace);
    co_await limit.async_wait(asio::as_tuple(asio::use_awaitable));
    if (self->dead()) co_return;
    self->log_->warn("{} did not leave within {} ms of being asked to; it is killed", self->describe_, grace.count());
    self->kill_reason_ = "it did not leave when asked";
    self->process_->kill();
  }, asio::detached);
}

asio::awaitable<void> worker_link::read_loop() {
  auto self = shared_from_this();
  std::string buffer(read_buffer_size, '\0');
  protocol::message_decoder decoder;
  // What one read brought, in order: output for requests that go on, and
  // the ends (with the output that came just before them, so that a small
  // response goes to the web server in one write with its END_REQUEST).
  std::vector<std::pair<std::shared_ptr<request>, event>> deliveries;
  while (true) {
    auto [ec, n] = co_await process_->socket().async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    deliveries.clear();
    std::string kill_now;      // why the worker is killed after this read
    bool overflowing = false;  // a stopped request's output goes on and on
    {
      std::lock_guard lock(mutex_);
      auto find = [&](std::uint16_t id) {
        return std::find_if(line_.begin(), line_.end(), [&](const auto& placed) { return placed->id == id; });
      };
      auto pending_for = [&](const std::shared_ptr<request>& placed, event::kind type) -> event* {
        for (auto& [who, what] : deliveries)
          if (who == placed && what.type == type) return &what;
        return nullptr;
      };
      const auto bad = decoder.put_all(std::string_view(buffer.data(), n), [&](protocol::decoded_message& decoded) {
        if (auto* data = std::get_if<protocol::message::stream_data>(&decoded)) {
          auto at = find(data->request_id);
          if (at == line_.end() || data->bytes.empty()) return;
          if ((*at)->aborted) {
            (*at)->dropped += data->bytes.size();
            if ((*at)->dropped > most_discarded) overflowing = true;
            return;
          }
          const auto type = data->stream == protocol::record_type::std_err ? event::kind::err : event::kind::out;
          if (auto* pending = pending_for(*at, type))
            pending->bytes.append(data->bytes);
          else
            deliveries.push_back({*at, event::of(type, std::string(data->bytes))});
        } else if (auto* told = std::get_if<protocol::message::get_values_result>(&decoded)) {
          const auto* run_time = protocol::find_value(told->pairs, worker_protocol::run_time_value);
          if (!run_time) return;
          const auto report = parse_run_report(*run_time);
          if (!report) return;
          if (auto at = find(report->request_id); at != line_.end()) {
            (*at)->run_us = report->run_us;
            (*at)->verdict = report->verdict;
          }
        } else if (auto* end = std::get_if<protocol::message::end_request>(&decoded)) {
          auto at = find(end->request_id);
          if (at == line_.end()) return;
          auto placed = *at;
          const bool was_front = at == line_.begin();
          line_.erase(at);
          if (was_front) front_changed_locked();
          auto ended = event::of(event::kind::end);
          ended.app_status = end->app_status;
          ended.run_us = placed->run_us;
          ended.verdict = placed->verdict;
          // Its output from this read goes with the end.
          for (auto it = deliveries.begin(); it != deliveries.end();) {
            if (it->first != placed) {
              ++it;
              continue;
            }
            (it->second.type == event::kind::out ? ended.bytes : ended.err_bytes) += it->second.bytes;
            it = deliveries.erase(it);
          }
          deliveries.push_back({placed, std::move(ended)});
        }
      });
      if (bad) {
        log_->error("{} sent a broken record ({}); it is killed", describe_, bad.message());
        kill_now = "it broke the protocol";
      }
    }
    if (overflowing) {
      log_->info("{}: a stopped request's output goes on past {} KiB; the worker is replaced rather than read to "
                 "its end", describe_, most_discarded / 1024);
      kill_now = "a stopped request's output went on";
    }
    // Indexed, not a range-for: g++ 12 mishandles co_await inside one.
    for (std::size_t i = 0; i < deliveries.size(); ++i) {
      auto events = deliveries[i].first->events;
      // Waited for only when its inbox is full (backpressure). A request
      // waiting for the event runs on at once (see event_mailbox).
      if (!events->try_send(deliveries[i].second)) co_await events->send(std::move(deliveries[i].second));
    }
    if (!kill_now.empty()) {
      kill_reason_ = kill_now;
      process_->kill();
      break;
    }
  }
  dead_.store(true, std::memory_order_release);
  grace_timer_.cancel();
  written_.cancel();
  co_await process_->wait_for_exit(death_wait);
  co_await tell_everyone_gone();
}

asio::awaitable<void> worker_link::tell_everyone_gone() {
  std::vector<std::shared_ptr<inbox>> told;  // in the line's order: the front was running
  {
    std::lock_guard lock(mutex_);
    for (const auto& placed : line_) told.push_back(placed->events);
    line_.clear();
  }
  for (std::size_t i = 0; i < told.size(); ++i) {
    auto gone = event::of(event::kind::gone);
    if (i == 0) {
      gone.started = true;
      gone.crashed = process_->crashed();
      gone.report = process_->exit_description();
      if (!kill_reason_.empty() && !gone.crashed) gone.report += " (" + kill_reason_ + ")";
      if (gone.crashed) {
        // On the symboliser's thread: this strand's I/O thread serves others meanwhile.
        auto symbolise = [dump = process_->take_crash_dump()]() -> asio::awaitable<std::vector<std::string>> {
          co_return symbolised_frames(parse_crash_dump(dump));
        };
        auto symbolised = asio::co_spawn(symboliser_, std::move(symbolise), asio::use_awaitable);
        gone.frames = co_await std::move(symbolised);
      }
    }
    co_await told[i]->send(std::move(gone));
  }
}

asio::awaitable<std::vector<std::string>> worker_link::handler_stack(std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  if (dead()) co_return std::vector<std::string>{};
  process_->request_handler_stack();
  // A descriptor of its own on the pipe, to wait for the reply without blocking.
  asio::posix::stream_descriptor pipe(strand_, ::dup(process_->crash_pipe()));
  asio::steady_timer give_up(strand_, limit);
  auto reply = process_->take_handler_stack();
  while (!reply && !dead()) {
    auto woke = co_await (pipe.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable)) ||
                          give_up.async_wait(asio::as_tuple(asio::use_awaitable)));
    reply = process_->take_handler_stack();
    if (woke.index() == 1 || std::get<0>(std::get<0>(woke))) break;
  }
  if (!reply) co_return std::vector<std::string>{};
  // Its memory map, read here: the worker writes only what a signal handler can.
  std::ifstream maps_file("/proc/" + std::to_string(pid_) + "/maps");
  std::string dump = *reply + "maps\n" + std::string(std::istreambuf_iterator<char>(maps_file), {});
  auto symbolise = [dump = std::move(dump)]() -> asio::awaitable<std::vector<std::string>> {
    co_return symbolised_frames(parse_crash_dump(dump), 24);
  };
  auto symbolised = asio::co_spawn(symboliser_, std::move(symbolise), asio::use_awaitable);
  co_return co_await std::move(symbolised);
}

}  // namespace fcgihost::runners
