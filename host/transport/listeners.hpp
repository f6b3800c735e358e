// Opening the sockets the host listens on: fd 0 when a web server or
// spawn-fcgi hands one over, systemd's LISTEN_FDS, or the --listen addresses.
// Plain POSIX here; the server hands the descriptors to Asio.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <host/config/config.hpp>

namespace fcgihost::host {

struct listener {
  int fd = -1;
  int family = 0;                    // AF_UNIX, AF_INET or AF_INET6
  std::string description;           // for logs
  std::filesystem::path socket_file; // a unix socket the host created: removed on exit
  bool status_only = false;          // --status-listen
};

// Throws std::runtime_error saying which address failed and why. Sockets
// handed over by the process this one replaces (see in_place_upgrade) come
// first and alone: the configured addresses are those sockets already.
std::vector<listener> open_listeners(const host_config& config);

// How a process hands its listening sockets to the one that replaces it: the
// environment variable, and its value for `listeners` ("FD[:status][:owned],...").
inline constexpr const char* inherited_listeners_variable = "FCGIHOST_INHERITED_LISTENERS";
std::string inherited_listeners_text(const std::vector<listener>& listeners);

// Whether `fd` is a socket that listens (fd 0 from a web server or
// spawn-fcgi; not a CGI program's pipes or connected sockets).
bool is_listening_socket(int fd);

// The first TCP listener bound to an address other machines can reach (not
// loopback: 0.0.0.0 and [::] included), described for a log line; empty if
// none. FastCGI has no authentication: a peer that reaches such a socket
// runs any script or handler with the params it likes.
std::string listener_open_to_the_network(const std::vector<listener>& listeners);

// Removes the unix socket files the host created.
void remove_socket_files(const std::vector<listener>& listeners);

}  // namespace fcgihost::host
