// FCGI_WEB_SERVER_ADDRS, as libfcgi reads it: a comma-separated list of IPv4
// and IPv6 addresses; when set, TCP peers not on it are refused. Unix-socket
// peers are governed by the socket's file mode instead.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fcgihost::host {

class peer_filter {
 public:
  // Throws std::invalid_argument for an entry that is not an IP address.
  static peer_filter parse(std::string_view list);
  static peer_filter from_environment();

  bool active() const { return !allowed_.empty(); }
  bool allows(const sockaddr_storage& peer) const;

 private:
  std::vector<std::array<std::uint8_t, 16>> allowed_;  // IPv4 stored as v4-mapped IPv6
};

// "127.0.0.1:4242", "[::1]:4242" or "unix", for logs.
std::string describe_peer(const sockaddr_storage& peer);

}  // namespace fcgihost::host
