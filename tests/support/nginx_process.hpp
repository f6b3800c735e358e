// A real nginx for a test, configured from examples/nginx/fcgi-host.conf.in
// in front of a host socket, listening on a unix socket of its own (no port
// to pick, none to collide).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "child_process.hpp"
#include "http_client.hpp"

namespace fcgihost::test {

class nginx_process {
 public:
  // `scripts_dir`: where /cgi/NAME scripts are (the host's --scripts).
  // `tcp_port`: also listen on 127.0.0.1:PORT (for clients that speak only
  // TCP, such as Prometheus).
  // `config_template`: another of examples/nginx (default: fcgi-host.conf.in).
  explicit nginx_process(const std::filesystem::path& host_socket,
                         const std::filesystem::path& scripts_dir = "/nonexistent", std::uint16_t tcp_port = 0,
                         const std::filesystem::path& config_template = FCGIHOST_NGINX_TEMPLATE);
  // Where nginx listens for HTTP (curl: --unix-socket PATH http://localhost/...).
  std::filesystem::path http_socket() const { return dir_ / "http.sock"; }
  std::string error_log() const { return read_file(dir_ / "error.log"); }

 private:
  temp_dir dir_;
  std::unique_ptr<child_process> process_;
};

inline http_response http_request(const nginx_process& nginx, const std::string& method, const std::string& target,
                                  const std::string& body = {}) {
  return http_request(nginx.http_socket(), method, target, body);
}

// Fills @NAME@ placeholders.
std::string fill_template(std::string text, const std::map<std::string, std::string>& values);

}  // namespace fcgihost::test
