// Blocking connects to one unix: or tcp: address for fcgi-bench's blocking
// clients and idle connections. A TCP name is looked up once, when made, not
// for every connection (10 000 idle connections made 10 000 lookups).
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include <fcgihost/protocol/socket_address.hpp>

namespace fcgihost::bench {

class blocking_connector {
 public:
  explicit blocking_connector(const protocol::socket_address& to);

  // A connected blocking socket (TCP_NODELAY on TCP), trying each address
  // the name resolved to in turn; or -1 with `why` saying where and why it
  // could not connect. An interrupted connect (EINTR) is not tried again.
  int connect(std::string& why) const;

 private:
  struct candidate {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_UNIX;
  };
  std::string described_;  // the address as the user wrote it
  std::vector<candidate> candidates_;
  std::string lookup_failure_;  // why there are no candidates
};

}  // namespace fcgihost::bench
