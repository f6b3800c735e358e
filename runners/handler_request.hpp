// fcgihost::request for a handler on a serving thread: its streams hand bytes
// to the request's I/O on the connection's strand and wait for them to be
// taken, so a handler never runs ahead of a slow client by more than a buffer.
#pragma once

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

 private:
  class output_buffer final : public std::streambuf {
   public:
    output_buffer(handler_request& owner, output_stream stream);
    bool send_pending();
    std::string take_pending();

   protected:
    int_type overflow(int_type c) override;
    int sync() override;

   private:
    handler_request& owner_;
    output_stream stream_;
    std::string buffer_;
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

  bool write(output_stream stream, std::string_view bytes);
  std::string read();

  std::shared_ptr<request_io> io_;
  std::stop_token stop_;
  bool over_ = false;  // the request ended without us: discard output
  output_buffer out_buffer_;
  output_buffer err_buffer_;
  input_buffer in_buffer_;
  std::ostream out_;
  std::ostream err_;
  std::istream in_;
};

}  // namespace fcgihost::runners
