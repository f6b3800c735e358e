// The address syntax shared by fcgi-host --listen and fcgi-client --connect:
// unix:PATH, tcp:HOST:PORT, tcp:[V6]:PORT, fd:N. Parsing only; no sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fcgihost::protocol {

struct socket_address {
  enum class kind { unix_path, tcp, fd };

  kind type = kind::tcp;
  std::string path;        // unix_path
  std::string host;        // tcp, without brackets
  std::uint16_t port = 0;  // tcp
  int fd = -1;             // fd

  std::string to_string() const;
};

// Parses `text`; on failure returns nullopt and says why in `why`.
std::optional<socket_address> parse_socket_address(std::string_view text, std::string& why);

}  // namespace fcgihost::protocol
