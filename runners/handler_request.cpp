#include "handler_request.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

namespace fcgihost::runners {

namespace {
// Bytes a handler's stream collects before they go out as a record.
constexpr std::size_t output_buffer_size = 32 * 1024;
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

bool handler_request::write(output_stream stream, std::string_view bytes) {
  if (over_ || bytes.empty()) return !over_;
  // Runs on the connection's strand; this worker waits for the bytes to be taken.
  auto sent = boost::asio::co_spawn(io_->executor(), io_->write(stream, bytes), boost::asio::use_future);
  try {
    over_ = !sent.get();
  } catch (const std::exception&) {
    over_ = true;
  }
  return !over_;
}

std::string handler_request::read() {
  if (over_) return {};
  // Before waiting for input, send what is buffered (as a tied stream does):
  // a web server may send more of the body only once it has seen output.
  out_buffer_.send_pending();
  err_buffer_.send_pending();
  auto chunk = boost::asio::co_spawn(io_->executor(), io_->read_stdin(), boost::asio::use_future);
  try {
    return chunk.get();
  } catch (const std::exception&) {
    over_ = true;
    return {};
  }
}

handler_request::output_buffer::output_buffer(handler_request& owner, output_stream stream)
    : owner_(owner), stream_(stream), buffer_(output_buffer_size, '\0') {
  setp(buffer_.data(), buffer_.data() + buffer_.size());
}

bool handler_request::output_buffer::send_pending() {
  const std::string_view pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
  if (pending.empty()) return true;
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  // After the request is over, output is dropped without failing the stream:
  // the stop token is how a handler learns it should stop.
  owner_.write(stream_, pending);
  return true;
}

std::string handler_request::output_buffer::take_pending() {
  std::string pending(pbase(), static_cast<std::size_t>(pptr() - pbase()));
  setp(buffer_.data(), buffer_.data() + buffer_.size());
  return pending;
}

handler_request::output_buffer::int_type handler_request::output_buffer::overflow(int_type c) {
  send_pending();
  if (!traits_type::eq_int_type(c, traits_type::eof())) {
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
  }
  return traits_type::not_eof(c);
}

int handler_request::output_buffer::sync() { return send_pending() ? 0 : -1; }

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
