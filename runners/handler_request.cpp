#include "handler_request.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>

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
      err_buffer_(*this, output_stream::err),
      in_buffer_(*this),
      out_(&out_buffer_),
      err_(&err_buffer_),
      in_(&in_buffer_) {}

// Nothing in flight is waited for: a write holds its buffer, the request's
// I/O sends what is left after the writes in flight (see request_io), and a
// prefetched read, which may wait for input that never comes, ends with the
// request.
handler_request::~handler_request() = default;

std::string_view handler_request::param(std::string_view name) const {
  const auto* value = protocol::find_value(io_->params(), name);
  return value ? std::string_view(*value) : std::string_view{};
}

std::size_t handler_request::param_count() const { return io_->params().size(); }

std::pair<std::string_view, std::string_view> handler_request::param_at(std::size_t index) const {
  const auto& pair = io_->params().at(index);
  return {pair.name, pair.value};
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

std::string handler_request::output_buffer::take_pending() {
  std::string pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
  setp(pbase(), epptr());
  return pending;
}

handler_request::output_buffer::int_type handler_request::output_buffer::overflow(int_type c) {
  if (owner_.stopped()) return traits_type::eof();  // the stream fails: the request is over
  if (pbase() == nullptr) {
    use_buffer(current_);
  } else {
    send_pending();
  }
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int handler_request::output_buffer::sync() {
  if (owner_.stopped()) return -1;
  send_pending();
  if (owner_.io_->flush_waits()) wait_sent();
  return owner_.stopped() ? -1 : 0;
}

handler_request::input_buffer::int_type handler_request::input_buffer::underflow() {
  if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
  if (ended_) return traits_type::eof();
  chunk_ = owner_.read();
  if (chunk_.empty()) {
    ended_ = true;
    return traits_type::eof();
  }
  setg(chunk_.data(), chunk_.data(), chunk_.data() + chunk_.size());
  return traits_type::to_int_type(*gptr());
}

}  // namespace fcgihost::runners
