#include <fcgihost/protocol/socket_address.hpp>

#include <charconv>

namespace fcgihost::protocol {

namespace {

template <typename Number>
bool parse_number(std::string_view text, Number& value) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc{} && ptr == end && !text.empty();
}

std::optional<socket_address> parse_tcp(std::string_view rest, std::string& why) {
  socket_address address;
  address.type = socket_address::kind::tcp;
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      why = "expected tcp:[IPV6]:PORT";
      return std::nullopt;
    }
    address.host = std::string(rest.substr(1, close - 1));
    port_text = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      why = "expected tcp:HOST:PORT";
      return std::nullopt;
    }
    address.host = std::string(rest.substr(0, colon));
    port_text = rest.substr(colon + 1);
  }
  if (address.host.empty()) {
    why = "missing host";
    return std::nullopt;
  }
  // Brackets only around an IPv6 host, and an IPv6 host only in brackets:
  // otherwise the last ':' is ambiguous and the address cannot be printed back.
  const bool bracketed = rest.starts_with('[');
  if (address.host.find_first_of(bracketed ? "[]" : "[]:") != std::string::npos) {
    why = bracketed ? "stray bracket in the host" : "an IPv6 host goes in brackets: tcp:[::1]:PORT";
    return std::nullopt;
  }
  if (!parse_number(port_text, address.port)) {
    why = "port must be a number from 0 to 65535";
    return std::nullopt;
  }
  return address;
}

}  // namespace

std::string socket_address::to_string() const {
  switch (type) {
    case kind::unix_path: return "unix:" + path;
    case kind::fd: return "fd:" + std::to_string(fd);
    case kind::tcp:
      if (host.find(':') != std::string::npos) return "tcp:[" + host + "]:" + std::to_string(port);
      return "tcp:" + host + ":" + std::to_string(port);
  }
  return {};
}

std::optional<socket_address> parse_socket_address(std::string_view text, std::string& why) {
  if (text.starts_with("unix:")) {
    socket_address address;
    address.type = socket_address::kind::unix_path;
    address.path = std::string(text.substr(5));
    if (address.path.empty()) {
      why = "missing socket path after unix:";
      return std::nullopt;
    }
    return address;
  }
  if (text.starts_with("tcp:")) return parse_tcp(text.substr(4), why);
  if (text.starts_with("fd:")) {
    socket_address address;
    address.type = socket_address::kind::fd;
    if (!parse_number(text.substr(3), address.fd) || address.fd < 0) {
      why = "fd: needs a non-negative number";
      return std::nullopt;
    }
    return address;
  }
  why = "expected unix:PATH, tcp:HOST:PORT, tcp:[IPV6]:PORT or fd:N";
  return std::nullopt;
}

}  // namespace fcgihost::protocol
