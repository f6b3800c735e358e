// A real nginx for a test, configured from examples/nginx/fcgi-host.conf.in
// in front of a host socket, on a free loopback port; and a small blocking
// HTTP/1.0 client to talk to it.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "child_process.hpp"

namespace fcgihost::test {

class nginx_process {
 public:
  // `scripts_dir`: where /cgi/NAME scripts are (the host's --scripts).
  explicit nginx_process(const std::filesystem::path& host_socket,
                         const std::filesystem::path& scripts_dir = "/nonexistent");
  int port() const { return port_; }
  std::string error_log() const { return read_file(dir_ / "error.log"); }

 private:
  temp_dir dir_;
  int port_ = 0;
  std::unique_ptr<child_process> process_;
};

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One request with Connection: close; bounded by a 60 s socket timeout.
http_response http_request(int port, const std::string& method, const std::string& target,
                           const std::string& body = {});

// A loopback TCP port nobody listens on right now.
int free_tcp_port();

// Fills @NAME@ placeholders.
std::string fill_template(std::string text, const std::map<std::string, std::string>& values);

}  // namespace fcgihost::test
