// A FastCGI peer on a plain blocking socket, for tests that must misbehave
// the way no client library would: send half a record, stall, flood without
// reading, hang up mid-write.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace fcgihost::test {

class raw_peer {
 public:
  // Connects to the unix socket at `path`; throws on failure.
  explicit raw_peer(const std::string& path);
  ~raw_peer();
  raw_peer(raw_peer&& other) noexcept;
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;
  raw_peer& operator=(raw_peer&& other) noexcept;

  // Sends all of `bytes`; false if the host closed the connection.
  bool send(std::string_view bytes);
  // Sends what the socket takes now without waiting; returns how much.
  std::size_t send_some(std::string_view bytes);
  // Reads until the host closes the connection, or `limit` passes; true if it closed.
  bool read_until_closed(std::chrono::milliseconds limit);
  // Reads until the received bytes contain a whole END_REQUEST record for
  // `request_id`, or the connection closes, or `limit` passes.
  bool read_until_end_request(std::uint16_t request_id, std::chrono::milliseconds limit);
  // Everything received so far.
  const std::string& received() const { return received_; }
  // Closes at once; with `reset`, with a TCP-style abort (SO_LINGER 0).
  void close(bool reset = false);
  int fd() const { return fd_; }
  // Reads what is there now, without waiting.
  void read_available() { read_some(std::chrono::milliseconds(0)); }
  // Whether the bytes received so far hold END_REQUEST for `request_id`.
  bool has_end_request(std::uint16_t request_id) const;

 private:
  bool read_some(std::chrono::milliseconds limit);

  int fd_ = -1;
  bool closed_by_host_ = false;
  std::string received_;
};

// Reads all the peers at once until each has END_REQUEST for `request_id`
// (or `limit` passes); returns when each one's arrived (time_point::max() if not).
std::vector<std::chrono::steady_clock::time_point> wait_for_end_requests(std::vector<raw_peer>& peers,
                                                                        std::uint16_t request_id,
                                                                        std::chrono::milliseconds limit);

// Waits, without reading, until each peer's connection is closed by the host
// (POLLRDHUP: seen even with unread bytes waiting), or `limit` passes;
// returns when each one's was (time_point::max() if not).
std::vector<std::chrono::steady_clock::time_point> wait_for_hang_ups(std::vector<raw_peer>& peers,
                                                                    std::chrono::milliseconds limit);

// A BEGIN_REQUEST and the whole PARAMS of a request for `script`, as nginx sends them.
std::string begin_with_params(std::uint16_t request_id, const std::string& script, const std::string& query = {},
                              bool keep_conn = true);

}  // namespace fcgihost::test
