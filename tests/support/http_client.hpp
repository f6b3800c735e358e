// A small blocking HTTP/1.0 client for the tests behind web servers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace fcgihost::test {

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

using http_headers = std::map<std::string, std::string>;

// One request with Connection: close to a web server's unix socket, with
// `headers` besides Host; bounded by a 60 s socket timeout.
http_response http_request(const std::filesystem::path& http_socket, const std::string& method,
                           const std::string& target, const std::string& body = {}, const http_headers& headers = {});
// The same to 127.0.0.1:PORT.
http_response http_request(std::uint16_t port, const std::string& method, const std::string& target,
                           const std::string& body = {}, const http_headers& headers = {});
// A port nothing listens on now (bound and released: for a server that can take no socket).
std::uint16_t free_tcp_port();

}  // namespace fcgihost::test
