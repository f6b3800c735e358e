#include "listeners.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fcgihost/protocol/socket_address.hpp>

#include <host/transport/peer_filter.hpp>

namespace fcgihost::host {

namespace {

std::runtime_error failure(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

int family_of(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return 0;
  return address.ss_family;
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return 0;
  if (address.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  if (address.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  return 0;
}

listener adopt(int fd, std::string description) {
  if (!is_listening_socket(fd)) throw std::runtime_error(description + " is not a listening socket");
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // scripts must never inherit it
  return {fd, family_of(fd), std::move(description), {}};
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path)
    throw std::runtime_error("unix socket path too long (" + std::to_string(path.size()) + " bytes): " + path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  return address;
}

// A socket file left by a crashed run is replaced; one somebody still listens
// on is not.
void clear_stale_socket(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) return;
  if (!S_ISSOCK(info.st_mode)) throw std::runtime_error(path + " exists and is not a socket");
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const auto address = unix_address(path);
  const bool alive = ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(probe);
  if (alive) throw std::runtime_error("another server is listening on " + path);
  ::unlink(path.c_str());
}

listener open_unix(const std::string& path, const host_config& config) {
  clear_stale_socket(path);
  const auto address = unix_address(path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw failure("socket");
  // Created owner-only, then opened up to the configured mode: no window in
  // which anyone else can connect.
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  ::umask(old_mask);
  if (bound != 0) {
    const auto error = failure("cannot bind unix:" + path);
    ::close(fd);
    throw error;
  }
  if (::chmod(path.c_str(), config.socket_mode) != 0 || ::listen(fd, config.backlog) != 0) {
    const auto error = failure("cannot listen on unix:" + path);
    ::close(fd);
    ::unlink(path.c_str());
    throw error;
  }
  return {fd, AF_UNIX, "unix:" + path, path};
}

listener open_tcp(const protocol::socket_address& where, const host_config& config) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(where.port);
  if (const int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    throw std::runtime_error("cannot resolve " + where.to_string() + ": " + ::gai_strerror(rc));
  std::string last_error = "no address";
  for (addrinfo* entry = found; entry; entry = entry->ai_next) {
    const int fd = ::socket(entry->ai_family, entry->ai_socktype | SOCK_CLOEXEC, entry->ai_protocol);
    if (fd < 0) continue;
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(fd, entry->ai_addr, entry->ai_addrlen) == 0 && ::listen(fd, config.backlog) == 0) {
      const int family = entry->ai_family;
      ::freeaddrinfo(found);
      // Port 0 asks the system for a free port: the log says which it gave.
      protocol::socket_address bound = where;
      if (bound.port == 0) bound.port = bound_port(fd);
      return {fd, family, bound.to_string(), {}};
    }
    last_error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  throw std::runtime_error("cannot listen on " + where.to_string() + ": " + last_error);
}

bool is_loopback(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return (ntohl(v4.sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return true;  // unix sockets: their file mode decides
}

listener open_address(const std::string& text, const host_config& config) {
  std::string why;
  const auto where = protocol::parse_socket_address(text, why);
  if (!where) throw std::runtime_error("bad --listen address '" + text + "': " + why);
  switch (where->type) {
    case protocol::socket_address::kind::unix_path: return open_unix(where->path, config);
    case protocol::socket_address::kind::tcp: return open_tcp(*where, config);
    case protocol::socket_address::kind::fd: return adopt(where->fd, "fd:" + std::to_string(where->fd));
  }
  throw std::logic_error("unhandled address kind");
}

// systemd socket activation: LISTEN_PID names us, LISTEN_FDS counts fds from 3.
std::vector<listener> systemd_listeners() {
  std::vector<listener> found;
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  if (!pid || !count || std::atol(pid) != static_cast<long>(::getpid())) return found;
  const int fds = std::atoi(count);
  for (int fd = 3; fd < 3 + fds; ++fd) found.push_back(adopt(fd, "systemd fd " + std::to_string(fd)));
  // Not for the children we start.
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return found;
}

// What a listening socket is bound to, as --listen would say it.
std::string bound_address(int fd) {
  sockaddr_storage address{};
  socklen_t size = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) return "fd:" + std::to_string(fd);
  if (address.ss_family == AF_UNIX) return std::string("unix:") + reinterpret_cast<const sockaddr_un&>(address).sun_path;
  return "tcp:" + describe_peer(address);
}

// The sockets of the process this one replaces (FCGIHOST_INHERITED_LISTENERS).
std::vector<listener> inherited_listeners() {
  std::vector<listener> found;
  const char* text = std::getenv(inherited_listeners_variable);
  if (!text) return found;
  std::string_view rest = text;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto digits = item.substr(0, item.find(':'));
    int fd = -1;
    if (std::from_chars(digits.data(), digits.data() + digits.size(), fd).ec != std::errc() || fd < 0)
      throw std::runtime_error(std::string("bad ") + inherited_listeners_variable + ": " + text);
    const std::string address = bound_address(fd);
    listener inherited = adopt(fd, address + " (inherited)");
    if (item.find(":owned") != std::string_view::npos && inherited.family == AF_UNIX)
      inherited.socket_file = address.substr(std::string_view("unix:").size());
    if (item.find(":status") != std::string_view::npos) {
      inherited.status_only = true;
      inherited.description += " (status)";
    }
    found.push_back(std::move(inherited));
  }
  ::unsetenv(inherited_listeners_variable);  // not for the children we start
  return found;
}

}  // namespace

bool is_listening_socket(int fd) {
  int listening = 0;
  socklen_t size = sizeof listening;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0 && listening != 0;
}

std::string inherited_listeners_text(const std::vector<listener>& listeners) {
  std::string text;
  for (const auto& l : listeners) {
    if (!text.empty()) text += ',';
    text += std::to_string(l.fd);
    if (l.status_only) text += ":status";
    if (!l.socket_file.empty()) text += ":owned";
  }
  return text;
}

std::vector<listener> open_listeners(const host_config& config) {
  if (auto inherited = inherited_listeners(); !inherited.empty()) return inherited;
  std::vector<listener> opened;
  try {
    for (const auto& address : config.listen) opened.push_back(open_address(address, config));
    if (opened.empty() && is_listening_socket(STDIN_FILENO)) opened.push_back(adopt(STDIN_FILENO, "fd:0"));
    if (opened.empty()) opened = systemd_listeners();
    if (opened.empty()) opened.push_back(open_address("tcp:127.0.0.1:9000", config));
    for (const auto& address : config.status_listen) {
      opened.push_back(open_address(address, config));
      opened.back().status_only = true;
      opened.back().description += " (status)";
    }
  } catch (...) {
    remove_socket_files(opened);
    for (const auto& done : opened) ::close(done.fd);
    throw;
  }
  return opened;
}

std::string listener_open_to_the_network(const std::vector<listener>& listeners) {
  for (const auto& one : listeners) {
    if (one.family != AF_INET && one.family != AF_INET6) continue;
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (::getsockname(one.fd, reinterpret_cast<sockaddr*>(&bound), &length) != 0) continue;
    if (!is_loopback(bound)) return one.description + " (" + describe_peer(bound) + ")";
  }
  return {};
}

void remove_socket_files(const std::vector<listener>& listeners) {
  for (const auto& l : listeners)
    if (!l.socket_file.empty()) ::unlink(l.socket_file.c_str());
}

}  // namespace fcgihost::host
