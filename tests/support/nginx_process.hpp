// A real nginx for a test, configured from examples/nginx/fcgi-host.conf.in
// in front of a host socket, listening on a unix socket of its own (no port
// to pick, none to collide); and a small blocking HTTP/1.0 client for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "child_process.hpp"

namespace fcgihost::test {

class nginx_process {
 public:
  // `scripts_dir`: where /cgi/NAME scripts are (the host's --scripts).
  // `tcp_port`: also listen on 127.0.0.1:PORT (for clients that speak only
  // TCP, such as Prometheus).
  explicit nginx_process(const std::filesystem::path& host_socket,
                         const std::filesystem::path& scripts_dir = "/nonexistent", std::uint16_t tcp_port = 0);
  // Where nginx listens for HTTP (curl: --unix-socket PATH http://localhost/...).
  std::filesystem::path http_socket() const { return dir_ / "http.sock"; }
  std::string error_log() const { return read_file(dir_ / "error.log"); }

 private:
  temp_dir dir_;
  std::unique_ptr<child_process> process_;
};

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request with Connection: close to a web server's unix socket; bounded by a 60 s socket timeout.
http_response http_request(const std::filesystem::path& http_socket, const std::string& method,
                           const std::string& target, const std::string& body = {});
// The same to 127.0.0.1:PORT.
http_response http_request(std::uint16_t port, const std::string& method, const std::string& target,
                           const std::string& body = {});
// A port nothing listens on now (bound and released: for a server that can take no socket).
std::uint16_t free_tcp_port();
inline http_response http_request(const nginx_process& nginx, const std::string& method, const std::string& target,
                                  const std::string& body = {}) {
  return http_request(nginx.http_socket(), method, target, body);
}

// Fills @NAME@ placeholders.
std::string fill_template(std::string text, const std::map<std::string, std::string>& values);

}  // namespace fcgihost::test
