#include "handler_request.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

namespace fcgihost::runners {

namespace {
// Bytes a handler's stream collects before they go out as records: a small
// buffer first (most responses fit), large ones once a stream has filled it.
// Each stream has two once it has sent one. Large buffers mean fewer hand-offs
// between threads (1 GiB echo: 64 KiB 1.7 s, 256 KiB 1.2 s).
constexpr std::size_t small_buffer_size = 16 * 1024;
constexpr std::size_t large_buffer_size = 256 * 1024;
}  // namespace

handler_request::handler_request(std::shared_ptr<request_io> io, std::stop_token stop)
    : io_(std::move(io)),
      stop_(std::move(stop)),
      out_buffer_(*this, output_stream::out),
      err_buffer_(*this, output_stream::err) {}

// Nothing in flight is waited for: a write holds its buffer, the request's
// I/O sends what is left after the writes in flight (see request_io), and a
// prefetched read, which may wait for input that never comes, ends with the
// request.
handler_request::~handler_request() = default;

const fcgihost_request_api& handler_request::api() {
  static const fcgihost_request_api table{
      .abi_version = FCGIHOST_ABI_VERSION,
      .size = sizeof(fcgihost_request_api),
      .param = &param_of,
      .param_count = &count_params,
      .param_at = &param_numbered,
      .read = &read_chunk,
      .output_space = &output_space,
      .commit = &commit_output,
      .write = &write_output,
      .fail = &fail,
      .stop_requested = &stop_requested,
      .wait_for_stop = &wait_for_stop,
      .set_stop_callback = &set_stop_callback,
  };
  return table;
}

namespace {
fcgihost_bytes bytes_of(std::string_view text) { return {text.data(), text.size()}; }
}  // namespace

int handler_request::param_of(fcgihost_request* r, const char* name, std::size_t name_size, fcgihost_bytes* value) {
  const auto* found = protocol::find_value(of(r).io_->params(), std::string_view(name, name_size));
  *value = bytes_of(found ? std::string_view(*found) : std::string_view());
  return found ? 1 : 0;
}

std::size_t handler_request::count_params(fcgihost_request* r) { return of(r).io_->params().size(); }

int handler_request::param_numbered(fcgihost_request* r, std::size_t index, fcgihost_bytes* name,
                                    fcgihost_bytes* value) {
  const auto& params = of(r).io_->params();
  if (index >= params.size()) {
    *name = *value = bytes_of({});
    return 0;
  }
  *name = bytes_of(params[index].name);
  *value = bytes_of(params[index].value);
  return 1;
}

fcgihost_bytes handler_request::read_chunk(fcgihost_request* r) {
  auto& self = of(r);
  self.chunk_.clear();
  if (!self.input_ended_) self.chunk_ = self.read();
  if (self.chunk_.empty()) self.input_ended_ = true;
  return bytes_of(self.chunk_);
}

handler_request::output_buffer* handler_request::output_buffer_for(int stream) {
  return stream == FCGIHOST_STDOUT ? &out_buffer_ : stream == FCGIHOST_STDERR ? &err_buffer_ : nullptr;
}

char* handler_request::output_space(fcgihost_request* r, int stream, std::size_t* space) {
  auto* buffer = of(r).output_buffer_for(stream);
  *space = 0;
  return buffer ? buffer->space(*space) : nullptr;
}

int handler_request::commit_output(fcgihost_request* r, int stream, std::size_t used, int flush) {
  auto* buffer = of(r).output_buffer_for(stream);
  return buffer && buffer->commit(used, flush != 0) ? 0 : -1;
}

int handler_request::write_output(fcgihost_request* r, int stream, const void* bytes, std::size_t size) {
  auto* buffer = of(r).output_buffer_for(stream);
  if (!buffer) return -1;
  const char* from = static_cast<const char*>(bytes);
  while (size > 0) {
    std::size_t space = 0;
    char* to = buffer->space(space);
    if (!to) return -1;
    const std::size_t now = std::min(space, size);
    std::memcpy(to, from, now);
    if (!buffer->commit(now, false)) return -1;
    from += now;
    size -= now;
  }
  return 0;
}

void handler_request::fail(fcgihost_request* r, const char* message, std::size_t size) {
  auto& self = of(r);
  self.failure_.assign(message, size);
  if (self.failure_.empty()) self.failure_ = "the handler failed";
}

int handler_request::stop_requested(fcgihost_request* r) { return of(r).stop_.stop_requested() ? 1 : 0; }

int handler_request::wait_for_stop(fcgihost_request* r, std::int64_t nanoseconds) {
  auto& self = of(r);
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  if (nanoseconds < 0)
    stopped.wait(lock, self.stop_, [] { return false; });
  else
    stopped.wait_for(lock, self.stop_, std::chrono::nanoseconds(nanoseconds), [] { return false; });
  return self.stop_.stop_requested() ? 1 : 0;
}

void handler_request::set_stop_callback(fcgihost_request* r, void (*on_stop)(void*), void* context) {
  auto& self = of(r);
  self.stop_callback_.reset();  // waits for a call under way on another thread
  if (on_stop) self.stop_callback_.emplace(self.stop_, plugin_stop_callback{on_stop, context});
}

std::string handler_request::take_unsent(output_stream stream) {
  if (over_) return {};
  return stream == output_stream::out ? out_buffer_.take_pending() : err_buffer_.take_pending();
}

std::future<bool> handler_request::start_write(output_stream stream, std::shared_ptr<const char[]> buffer,
                                               std::size_t size) {
  // The coroutine holds the request's I/O and the bytes: it may finish after this object.
  return boost::asio::co_spawn(
      io_->executor(),
      [io = io_, stream, buffer = std::move(buffer), size] {
        return io->write(stream, std::string_view(buffer.get(), size));
      },
      boost::asio::use_future);
}

void handler_request::finish_write(std::future<bool>& sending) {
  if (sending.wait_for(std::chrono::seconds(0)) != std::future_status::ready) waited_ = true;
  try {
    if (!sending.get()) over_ = true;
  } catch (const std::exception&) {
    over_ = true;
  }
}

std::future<std::string> handler_request::fetch_stdin() {
  // The coroutine holds the request's I/O: it may finish after this object.
  return boost::asio::co_spawn(io_->executor(), [io = io_] { return io->read_stdin(); }, boost::asio::use_future);
}

std::string handler_request::read() {
  read_input_ = true;
  if (over_) return {};
  if (!next_chunk_.valid()) next_chunk_ = fetch_stdin();
  if (next_chunk_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    waited_ = true;
    // About to wait for input: send what is buffered first (as a tied stream
    // does), since a web server may send more of the body only once it has
    // seen output.
    out_buffer_.send_pending();
    err_buffer_.send_pending();
  }
  std::string chunk;
  try {
    chunk = next_chunk_.get();
  } catch (const std::exception&) {
    over_ = true;
    return {};
  }
  if (!chunk.empty()) next_chunk_ = fetch_stdin();  // fetched while the handler works on this one
  return chunk;
}

handler_request::output_buffer::output_buffer(handler_request& owner, output_stream stream)
    : owner_(owner), stream_(stream), wanted_size_(small_buffer_size) {}

void handler_request::output_buffer::use_buffer(std::size_t index) {
  if (!buffers_[index] || capacities_[index] < wanted_size_) {
    // Not zeroed: most handlers write a few hundred bytes.
    buffers_[index] = std::shared_ptr<char[]>(new char[wanted_size_]);
    capacities_[index] = wanted_size_;
  }
  char* start = buffers_[index].get();
  setp(start, start + capacities_[index]);
}

void handler_request::output_buffer::send_pending() {
  const std::string_view pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
  if (pending.empty()) return;
  if (pending.size() == capacities_[current_]) wanted_size_ = large_buffer_size;  // a stream, not a page
  wait_sent();  // the other buffer is free again
  // After the request is over, output is dropped and the stream fails (see
  // overflow): a handler blocked writing to a client that does not read
  // returns when its request is stopped.
  if (!owner_.over_) {
    sending_ = owner_.start_write(stream_, buffers_[current_], pending.size());
    current_ ^= 1;
  }
  use_buffer(current_);
}

void handler_request::output_buffer::wait_sent() {
  if (sending_.valid()) owner_.finish_write(sending_);
}

char* handler_request::output_buffer::space(std::size_t& size) {
  if (owner_.stopped()) return nullptr;  // the request is over: the handler's writes fail
  if (pbase() == nullptr)
    use_buffer(current_);
  else if (pptr() == epptr())
    send_pending();
  if (owner_.stopped()) return nullptr;
  size = static_cast<std::size_t>(epptr() - pptr());
  return pptr();
}

bool handler_request::output_buffer::commit(std::size_t used, bool flush) {
  if (owner_.stopped()) return false;
  if (pbase() == nullptr || used > static_cast<std::size_t>(epptr() - pptr())) {
    if (used > 0) return false;  // more than space() gave
  } else {
    pbump(static_cast<int>(used));
  }
  if (flush) {
    send_pending();
    if (owner_.io_->flush_waits()) wait_sent();
  } else if (pbase() != nullptr && pptr() == epptr()) {
    send_pending();
  }
  return !owner_.stopped();
}

std::string handler_request::output_buffer::take_pending() {
  std::string pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
  setp(pbase(), epptr());
  return pending;
}

}  // namespace fcgihost::runners
