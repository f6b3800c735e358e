// Command line of fcgi-client.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <client/cgi_params.hpp>
#include <fcgihost/protocol/name_value.hpp>

namespace fcgihost::client {

struct client_options {
  std::string connect;
  std::optional<http_request_line> request_line;    // METHOD URI given
  protocol::name_value_list extra_params;           // --param, applied last
  std::optional<std::string> stdin_path;            // --stdin FILE or -
  std::uint16_t role = 1;
  bool keep_conn = false;
  bool get_values = false;
  std::vector<std::string> value_names;             // after --get-values
  double timeout_seconds = 0;                       // 0: wait for ever
  bool show_status = false;                         // print the END_REQUEST to stderr
  bool help = false;
};

// Throws std::invalid_argument with a message fit for the user.
client_options parse_client_options(const std::vector<std::string>& arguments);

extern const char* const client_usage;

}  // namespace fcgihost::client
