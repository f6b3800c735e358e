#include "raw_peer.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include "host_process.hpp"

namespace fcgihost::test {

raw_peer::raw_peer(const std::string& path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "connect " + path);
  }
}

raw_peer::~raw_peer() { close(); }

raw_peer::raw_peer(raw_peer&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      closed_by_host_(other.closed_by_host_),
      received_(std::move(other.received_)) {}

raw_peer& raw_peer::operator=(raw_peer&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    closed_by_host_ = other.closed_by_host_;
    received_ = std::move(other.received_);
  }
  return *this;
}

void raw_peer::close(bool reset) {
  if (fd_ < 0) return;
  if (reset) {
    const linger abort_on_close{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  }
  ::close(fd_);
  fd_ = -1;
}

bool raw_peer::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::size_t raw_peer::send_some(std::string_view bytes) {
  const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

bool raw_peer::read_some(std::chrono::milliseconds limit) {
  pollfd waiting{fd_, POLLIN, 0};
  const int ready = ::poll(&waiting, 1, static_cast<int>(std::max<long long>(0, limit.count())));
  if (ready <= 0) return false;
  char buffer[65536];
  const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
  if (n <= 0) {
    closed_by_host_ = true;
    return false;
  }
  received_.append(buffer, static_cast<std::size_t>(n));
  return true;
}

bool raw_peer::read_until_closed(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!closed_by_host_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    read_some(left);
  }
  return closed_by_host_;
}

bool raw_peer::has_end_request(std::uint16_t request_id) const {
  protocol::message_decoder decoder;
  std::string_view input(received_);
  while (!input.empty()) {
    protocol::decoded_message message;
    bool ready = false;
    std::error_code ec;
    input.remove_prefix(decoder.put(input, message, ready, ec));
    if (ec) return false;
    if (!ready) continue;
    if (const auto* end = std::get_if<protocol::message::end_request>(&message); end && end->request_id == request_id)
      return true;
  }
  return false;
}

bool raw_peer::read_until_end_request(std::uint16_t request_id, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!has_end_request(request_id)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (closed_by_host_ || left.count() <= 0) return false;
    read_some(left);
  }
  return true;
}

namespace {

using clock_type = std::chrono::steady_clock;

// Polls the peers for `events` until each is settled or `limit` passes.
// `settle(peer, revents)` returns the time to record for a peer (max: not yet).
template <typename Settle>
std::vector<clock_type::time_point> poll_peers(std::vector<raw_peer>& peers, short events,
                                               std::chrono::milliseconds limit, Settle settle) {
  std::vector<clock_type::time_point> settled(peers.size(), clock_type::time_point::max());
  const auto deadline = clock_type::now() + limit;
  std::size_t waiting = peers.size();
  while (waiting > 0 && clock_type::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (settled[i] != clock_type::time_point::max()) continue;
      fds.push_back({peers[i].fd(), events, 0});
      index.push_back(i);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(1, left.count()))) <= 0) continue;
    const auto now = clock_type::now();
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const auto when = settle(peers[index[k]], fds[k].revents, now);
      if (when == clock_type::time_point::max()) continue;
      settled[index[k]] = when;
      --waiting;
    }
  }
  return settled;
}

}  // namespace

std::vector<clock_type::time_point> wait_for_end_requests(std::vector<raw_peer>& peers, std::uint16_t request_id,
                                                          std::chrono::milliseconds limit) {
  return poll_peers(peers, POLLIN, limit, [request_id](raw_peer& peer, short revents, clock_type::time_point now) {
    peer.read_available();
    if (peer.has_end_request(request_id)) return now;
    // Closed without it: min, not max, so it stops being polled.
    return (revents & (POLLHUP | POLLERR)) ? clock_type::time_point::min() : clock_type::time_point::max();
  });
}

std::vector<clock_type::time_point> wait_for_hang_ups(std::vector<raw_peer>& peers, std::chrono::milliseconds limit) {
  return poll_peers(peers, POLLRDHUP, limit, [](raw_peer&, short revents, clock_type::time_point now) {
    return (revents & (POLLRDHUP | POLLHUP | POLLERR)) ? now : clock_type::time_point::max();
  });
}

std::string begin_with_params(std::uint16_t request_id, const std::string& script, const std::string& query,
                              bool keep_conn) {
  std::string bytes;
  protocol::append_begin_request(bytes, request_id, protocol::role::responder, keep_conn);
  protocol::append_params(bytes, request_id, request_params(script, query));
  return bytes;
}

}  // namespace fcgihost::test
