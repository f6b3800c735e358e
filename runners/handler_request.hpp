// fcgihost::request for a handler on a serving thread. Its streams hand
// bytes to the request's I/O on the connection's strand without waiting for
// them to be sent: output is double-buffered (a full buffer is sent while the
// handler fills the other; it waits only when both are full) and the next
// FCGI_STDIN chunk is fetched while the handler works on the last one. So a
// handler never runs ahead of a slow client by more than two buffers, and a
// streaming handler and the socket work at once (1 GiB echo: see issue 5).
// When the handler returns, nothing is waited for: its thread is free at once.
#pragma once

#include <future>
#include <memory>
#include <stop_token>
#include <streambuf>
#include <string>

#include <fcgihost/plugin.hpp>

#include "request_io.hpp"

namespace fcgihost::runners {

class handler_request final : public fcgihost::request {
 public:
  handler_request(std::shared_ptr<request_io> io, std::stop_token stop);
  ~handler_request();

  std::string_view param(std::string_view name) const override;
  std::size_t param_count() const override;
  std::pair<std::string_view, std::string_view> param_at(std::size_t index) const override;
  std::istream& in() override { return in_; }
  std::ostream& out() override { return out_; }
  std::ostream& err() override { return err_; }
  std::stop_token stop_token() const override { return stop_; }

  // What the handler left in its buffers when it returned, taken out unsent.
  std::string take_unsent(output_stream stream);
  // It waited for input or for the client at least once (see handler_speed).
  bool waited() const { return waited_; }
  // It read (or tried to read) FCGI_STDIN.
  bool read_input() const { return read_input_; }

 private:
  class output_buffer final : public std::streambuf {
   public:
    output_buffer(handler_request& owner, output_stream stream);
    // Hands the buffered bytes over to be sent, and switches to the other
    // buffer (once what it held has been sent).
    void send_pending();
    // Waits until what was handed over has been sent (or the request is over).
    void wait_sent();
    std::string take_pending();

   protected:
    int_type overflow(int_type c) override;
    int sync() override;

   private:
    // Puts buffer `index` (allocated or enlarged here) in place to be filled.
    void use_buffer(std::size_t index);

    handler_request& owner_;
    output_stream stream_;
    std::shared_ptr<char[]> buffers_[2];  // allocated on first use; shared with the write sending one
    std::size_t capacities_[2] = {0, 0};
    std::size_t wanted_size_;
    std::size_t current_ = 0;
    std::future<bool> sending_;  // the other buffer's bytes, on their way
  };

  class input_buffer final : public std::streambuf {
   public:
    explicit input_buffer(handler_request& owner) : owner_(owner) {}

   protected:
    int_type underflow() override;

   private:
    handler_request& owner_;
    std::string chunk_;
    bool ended_ = false;
  };

  // The request is over (timed out, aborted, its connection gone).
  bool stopped() const { return over_ || stop_.stop_requested(); }
  std::future<bool> start_write(output_stream stream, std::shared_ptr<const char[]> buffer, std::size_t size);
  // Waits for a write; if it failed, the request is over.
  void finish_write(std::future<bool>& sending);
  std::future<std::string> fetch_stdin();
  std::string read();

  std::shared_ptr<request_io> io_;
  std::stop_token stop_;
  bool over_ = false;  // the request ended without us: discard output
  bool waited_ = false;
  bool read_input_ = false;
  std::future<std::string> next_chunk_;  // FCGI_STDIN fetched ahead
  output_buffer out_buffer_;
  output_buffer err_buffer_;
  input_buffer in_buffer_;
  std::ostream out_;
  std::ostream err_;
  std::istream in_;
};

}  // namespace fcgihost::runners
