#include "blocking_connector.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fcgihost::bench {

blocking_connector::blocking_connector(const protocol::socket_address& to) : described_(to.to_string()) {
  if (to.type == protocol::socket_address::kind::unix_path) {
    candidate unix_address;
    auto* path = reinterpret_cast<sockaddr_un*>(&unix_address.storage);
    path->sun_family = AF_UNIX;
    std::strncpy(path->sun_path, to.path.c_str(), sizeof path->sun_path - 1);
    unix_address.length = sizeof(sockaddr_un);
    candidates_.push_back(unix_address);
    return;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int failure = ::getaddrinfo(to.host.c_str(), std::to_string(to.port).c_str(), &hints, &found);
  if (failure != 0) lookup_failure_ = ::gai_strerror(failure);
  for (auto* entry = found; entry; entry = entry->ai_next) {
    candidate tcp_address;
    std::memcpy(&tcp_address.storage, entry->ai_addr, entry->ai_addrlen);
    tcp_address.length = entry->ai_addrlen;
    tcp_address.family = entry->ai_family;
    candidates_.push_back(tcp_address);
  }
  if (found) ::freeaddrinfo(found);
}

int blocking_connector::connect(std::string& why) const {
  if (candidates_.empty()) {
    why = "cannot connect to " + described_ + ": " + lookup_failure_;
    return -1;
  }
  int last_error = 0;
  for (const auto& each : candidates_) {
    const int fd = ::socket(each.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&each.storage), each.length) == 0) {
      if (each.family != AF_UNIX) {
        const int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      }
      return fd;
    }
    last_error = errno;
    ::close(fd);
    if (last_error == EINTR) break;  // interrupted on purpose: the caller knows why
  }
  why = "cannot connect to " + described_ + ": " + std::strerror(last_error);
  return -1;
}

}  // namespace fcgihost::bench
