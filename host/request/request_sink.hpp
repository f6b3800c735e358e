// What a request sees of its connection: a way to write records, and to say
// that it has ended. Narrow on purpose: a request holds it weakly, so the
// connection and its requests never keep each other alive, and a request
// whose connection is gone finds that out instead of writing to it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include <host/common/close_reason.hpp>

namespace fcgihost::host {

class request_sink {
 public:
  virtual ~request_sink() = default;

  // Held while writing, so records of concurrent requests never interleave
  // within a record.
  class write_guard {
   public:
    explicit write_guard(request_sink* owner) : owner_(owner) {}
    write_guard(write_guard&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    write_guard& operator=(write_guard&&) = delete;
    ~write_guard() {
      if (owner_) owner_->release_writer();
    }

   private:
    request_sink* owner_;
  };

  virtual boost::asio::awaitable<write_guard> acquire_writer() = 0;
  // Only while holding a write_guard. Throws when the socket fails.
  virtual boost::asio::awaitable<void> write_now(const std::vector<boost::asio::const_buffer>& buffers) = 0;

  // Whether this request is the only one on the connection.
  virtual bool alone(std::uint16_t request_id) const = 0;
  // The request is ending: its id is free again. Called before END_REQUEST
  // goes out, because the web server may reuse the id the moment it sees it.
  virtual void release_request(std::uint16_t request_id) = 0;
  // The request's last records went out (or could not).
  virtual void request_done(bool keep_conn) = 0;
  // Reading may resume: the request's runner took its backlog of FCGI_STDIN.
  virtual void resume_reading() = 0;
  // The connection cannot go on (a response must show as cut, a peer that
  // does not read): close it now, ending every request on it.
  virtual void tear_down(close_reason why) = 0;

 protected:
  virtual void release_writer() = 0;
};

}  // namespace fcgihost::host
