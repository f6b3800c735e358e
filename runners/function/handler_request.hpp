// The request a plugin's handler is given, behind the C ABI
// (<fcgihost/plugin.h>): api() is the table of functions it calls, handle()
// what it passes back. On the handler's thread, its output buffers hand
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
#include <optional>
#include <stop_token>
#include <streambuf>
#include <string>

#include <fcgihost/plugin.h>

#include <runners/common/request_io.hpp>

namespace fcgihost::runners {

class handler_request final {
 public:
  handler_request(std::shared_ptr<request_io> io, std::stop_token stop);
  ~handler_request();
  handler_request(const handler_request&) = delete;
  handler_request& operator=(const handler_request&) = delete;

  // What a handler is called with.
  static const fcgihost_request_api& api();
  fcgihost_request* handle() { return reinterpret_cast<fcgihost_request*>(this); }

  // The handler called fail(): why (empty if it did not).
  const std::string& failure() const { return failure_; }

  // What the handler left in its buffers when it returned, taken out unsent.
  std::string take_unsent(output_stream stream);
  // It waited for input or for the client at least once (see handler_speed).
  bool waited() const { return waited_; }
  // It read (or tried to read) FCGI_STDIN.
  bool read_input() const { return read_input_; }

 private:
  static handler_request& of(fcgihost_request* r) { return *reinterpret_cast<handler_request*>(r); }

  class output_buffer final : public std::streambuf {
   public:
    output_buffer(handler_request& owner, output_stream stream);
    // Where the handler writes next, sending a full buffer first (null once
    // the request is over).
    char* space(std::size_t& size);
    // `used` bytes were written at space(); false once the request is over.
    bool commit(std::size_t used, bool flush);
    // Hands the buffered bytes over to be sent, and switches to the other
    // buffer (once what it held has been sent).
    void send_pending();
    // Waits until what was handed over has been sent (or the request is over).
    void wait_sent();
    std::string take_pending();

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
  // The buffer of FCGIHOST_STDOUT or FCGIHOST_STDERR; null for another number.
  output_buffer* output_buffer_for(int stream);

  // The functions of api() (see plugin.h), on the handler's thread (stop_requested on any).
  static int param_of(fcgihost_request* r, const char* name, std::size_t name_size, fcgihost_bytes* value);
  static std::size_t count_params(fcgihost_request* r);
  static int param_numbered(fcgihost_request* r, std::size_t index, fcgihost_bytes* name, fcgihost_bytes* value);
  static fcgihost_bytes read_chunk(fcgihost_request* r);
  static char* output_space(fcgihost_request* r, int stream, std::size_t* space);
  static int commit_output(fcgihost_request* r, int stream, std::size_t used, int flush);
  static int write_output(fcgihost_request* r, int stream, const void* bytes, std::size_t size);
  static void fail(fcgihost_request* r, const char* message, std::size_t size);
  static int stop_requested(fcgihost_request* r);
  static int wait_for_stop(fcgihost_request* r, std::int64_t nanoseconds);
  static void set_stop_callback(fcgihost_request* r, void (*on_stop)(void*), void* context);

  struct plugin_stop_callback {
    void (*on_stop)(void*);
    void* context;
    void operator()() const { on_stop(context); }
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
  std::string chunk_;                     // the last read, the handler's until the next
  bool input_ended_ = false;
  std::string failure_;
  output_buffer out_buffer_;
  output_buffer err_buffer_;
  std::optional<std::stop_callback<plugin_stop_callback>> stop_callback_;
};

}  // namespace fcgihost::runners
