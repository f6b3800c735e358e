// The host's side of one request, as a runner sees it: params in, FCGI_STDIN
// in, FCGI_STDOUT/FCGI_STDERR out, all with backpressure. Shared, so a handler
// that outlives its request (it ignored the stop token) still finds a valid
// object, which then reports the request as over.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/common/run_result.hpp>

namespace fcgihost::runners {

class request_io {
 public:
  virtual ~request_io() = default;

  virtual const protocol::name_value_list& params() const = 0;
  // The next FCGI_STDIN chunk; empty at the end of the stream (or once the request is over).
  virtual boost::asio::awaitable<std::string> read_stdin() = 0;
  // The whole FCGI_STDIN has arrived: read_stdin() will not wait. On the executor.
  virtual bool stdin_complete() const = 0;
  // Sends bytes as records; waits while the web server reads slowly. False
  // once the request is over (timed out, aborted, connection gone): stop.
  // Writes started before the run ends are sent before its run_result's
  // output, even when they complete after the run.
  virtual boost::asio::awaitable<bool> write(output_stream stream, std::string_view bytes) = 0;
  // Where the awaitables above must run (the connection's strand).
  virtual boost::asio::any_io_executor executor() const = 0;
  // The worker process the request runs in, for the access log.
  virtual void note_worker(int pid) { (void)pid; }
  // The script process the request runs (the leader of its process group).
  virtual void note_script(int pid) { (void)pid; }
  // A script that answered (closed its stdout) and runs on keeps what its
  // request held of the host (a --max-requests slot) until it ends: the
  // returned object holds it. Null when there is nothing to keep.
  virtual std::shared_ptr<void> keep_slot() { return nullptr; }
  // The request's deadline; time_point::max() when it has none.
  virtual std::chrono::steady_clock::time_point deadline() const {
    return std::chrono::steady_clock::time_point::max();
  }
  // Whether a handler's flush waits until its output has left the process
  // (in a worker: output flushed before a crash must reach the host).
  virtual bool flush_waits() const { return false; }
};

}  // namespace fcgihost::runners
