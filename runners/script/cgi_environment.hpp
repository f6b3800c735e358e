// A script's environment, as CGI/1.1 (RFC 3875) has it, allow-listed: the
// request's params that are CGI meta-variables, HTTP_* headers (less
// HTTP_PROXY, which a client sets with a "Proxy:" header: "httpoxy"), the
// FastCGI spec's own names and those the config adds (script-env); from the
// host's own environment only PATH and what pass-env names. Any other param
// is dropped: a param named LD_PRELOAD, BASH_ENV or BASH_FUNC_x%% would run
// the sender's code in the script's loader or shell.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <fcgihost/protocol/name_value.hpp>

#include <runners/script/script_location.hpp>

namespace fcgihost::runners {

// PATH for a script when the host itself has none.
inline constexpr std::string_view fallback_path = "/usr/local/bin:/usr/bin:/bin";

// What the config adds to a script's environment.
struct script_environment_names {
  std::vector<std::string> from_host;     // pass-env: the host's own variables
  std::vector<std::string> from_request;  // script-env: params beyond the allow-list
};

struct script_environment {
  std::vector<std::string> entries;  // "NAME=VALUE"
  std::vector<std::string> dropped;  // names of params left out
};

// A name that never reaches a script, whatever the config says: the
// loader's (LD_*), the shells' start-up files and exported functions
// (BASH_ENV, ENV, BASH_FUNC_*), and any name that is not [A-Za-z0-9_]+.
bool never_in_script_environment(std::string_view name);
// Why `name` cannot be in pass-env or script-env, or empty if it can.
// script-env takes values from the request, so it also refuses names that
// make an interpreter run code (PERL5OPT, PYTHONSTARTUP, NODE_OPTIONS...).
std::string refused_environment_name(std::string_view name, bool value_from_request);

// A name that carries part of a request: a CGI meta-variable, HTTP_*, SSL_*,
// REDIRECT_*. In CGI mode the host's own environment is the request; a
// worker never inherits these (httpoxy: HTTP_PROXY from a "Proxy:" header).
bool is_request_variable(std::string_view name);

// The host's environment (`host_environment`, like `environ`) less request
// variables and the host's own hand-over variables (FCGIHOST_*, systemd's
// LISTEN_*, NOTIFY_SOCKET, WATCHDOG_*): what a worker process starts with.
std::vector<std::string> worker_environment(const char* const* host_environment);

// `host_environment` is a NULL-terminated array like `environ`.
// SCRIPT_FILENAME names the file found; when the web server sent no
// PATH_INFO, it gets what followed the file, and SCRIPT_NAME loses it.
script_environment cgi_environment(const protocol::name_value_list& params, const script_location& script,
                                   const script_environment_names& names, const char* const* host_environment);

}  // namespace fcgihost::runners
