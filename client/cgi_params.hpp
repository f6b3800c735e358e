// The CGI/1.1 parameters a web server would send for an HTTP request line, so
// `fcgi-client GET /path?query` is enough to talk to a FastCGI app.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fcgihost/protocol/name_value.hpp>

namespace fcgihost::client {

struct http_request_line {
  std::string method = "GET";
  std::string uri = "/";                  // path and optional ?query
  std::string document_root;              // SCRIPT_FILENAME = root + path when set
  std::vector<std::string> headers;       // "Name: value" lines, sent as HTTP_NAME
  std::optional<std::size_t> content_length;
  std::string content_type;
};

// Parameters in the order nginx's fastcgi_params sends them. Throws
// std::invalid_argument for a URI that does not start with '/' or a header
// line without ':'.
protocol::name_value_list cgi_params_for(const http_request_line& request);

// Adds or replaces `name` (user --param flags win over the defaults).
void set_param(protocol::name_value_list& params, std::string name, std::string value);

}  // namespace fcgihost::client
