// A script's environment, as CGI/1.1 (RFC 3875) has it: the request's
// params, and from the host's own environment only PATH and the names the
// config passes on (pass-env). A param never overrides those, and names a
// shell could not carry (empty, with '=' or NUL) are left out, as is
// HTTP_PROXY, which a client sets with a "Proxy:" header ("httpoxy").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fcgihost/protocol/name_value.hpp>

#include "script_location.hpp"

namespace fcgihost::runners {

// PATH for a script when the host itself has none.
inline constexpr std::string_view fallback_path = "/usr/local/bin:/usr/bin:/bin";

// "NAME=VALUE" strings. `host_environment` is a NULL-terminated array like
// `environ`. SCRIPT_FILENAME names the file found; when the web server sent
// no PATH_INFO, it gets what followed the file, and SCRIPT_NAME loses it.
std::vector<std::string> cgi_environment(const protocol::name_value_list& params, const script_location& script,
                                         const std::vector<std::string>& pass_env,
                                         const char* const* host_environment);

}  // namespace fcgihost::runners
