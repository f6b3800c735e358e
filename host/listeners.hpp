// Opening the sockets the host listens on: fd 0 when a web server or
// spawn-fcgi hands one over, systemd's LISTEN_FDS, or the --listen addresses.
// Plain POSIX here; the server hands the descriptors to Asio.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config.hpp"

namespace fcgihost::host {

struct listener {
  int fd = -1;
  int family = 0;                    // AF_UNIX, AF_INET or AF_INET6
  std::string description;           // for logs
  std::filesystem::path socket_file; // a unix socket the host created: removed on exit
  bool status_only = false;          // --status-listen
};

// Throws std::runtime_error saying which address failed and why.
std::vector<listener> open_listeners(const host_config& config);

// Removes the unix socket files the host created.
void remove_socket_files(const std::vector<listener>& listeners);

}  // namespace fcgihost::host
