#include "peer_filter.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace fcgihost::host {

namespace {

std::array<std::uint8_t, 16> mapped_v4(const in_addr& v4) {
  std::array<std::uint8_t, 16> bytes{};
  bytes[10] = 0xFF;
  bytes[11] = 0xFF;
  std::memcpy(bytes.data() + 12, &v4, 4);
  return bytes;
}

}  // namespace

peer_filter peer_filter::parse(std::string_view list) {
  peer_filter filter;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string entry(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    entry.erase(std::remove_if(entry.begin(), entry.end(), [](char c) { return c == ' ' || c == '\t'; }), entry.end());
    if (entry.empty()) continue;
    in_addr v4{};
    in6_addr v6{};
    if (::inet_pton(AF_INET, entry.c_str(), &v4) == 1) {
      filter.allowed_.push_back(mapped_v4(v4));
    } else if (::inet_pton(AF_INET6, entry.c_str(), &v6) == 1) {
      std::array<std::uint8_t, 16> bytes{};
      std::memcpy(bytes.data(), &v6, 16);
      filter.allowed_.push_back(bytes);
    } else {
      throw std::invalid_argument("FCGI_WEB_SERVER_ADDRS: '" + entry + "' is not an IPv4 or IPv6 address");
    }
  }
  return filter;
}

peer_filter peer_filter::from_environment() {
  const char* list = std::getenv("FCGI_WEB_SERVER_ADDRS");
  return list ? parse(list) : peer_filter{};
}

bool peer_filter::allows(const sockaddr_storage& peer) const {
  if (!active()) return true;
  std::array<std::uint8_t, 16> bytes{};
  if (peer.ss_family == AF_INET) {
    bytes = mapped_v4(reinterpret_cast<const sockaddr_in&>(peer).sin_addr);
  } else if (peer.ss_family == AF_INET6) {
    std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, 16);
  } else {
    return true;
  }
  return std::find(allowed_.begin(), allowed_.end(), bytes) != allowed_.end();
}

std::string describe_peer(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (peer.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(peer);
    ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  if (peer.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(peer);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(v6.sin6_port));
  }
  return "unix";
}

}  // namespace fcgihost::host
