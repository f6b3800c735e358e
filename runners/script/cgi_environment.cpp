#include "cgi_environment.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_set>

namespace fcgihost::runners {

namespace {

using namespace std::string_view_literals;

// RFC 3875's meta-variables, what Apache's mod_cgi and nginx's fastcgi_params
// add to them, and the names the FastCGI spec defines (FCGI_ROLE as libfcgi
// sets it; the Filter role's FCGI_DATA_*).
constexpr std::array request_variables{
    "AUTH_TYPE"sv,      "CONTENT_LENGTH"sv,  "CONTENT_TYPE"sv,     "GATEWAY_INTERFACE"sv,     "PATH_INFO"sv,
    "PATH_TRANSLATED"sv, "QUERY_STRING"sv,   "REMOTE_ADDR"sv,      "REMOTE_HOST"sv,           "REMOTE_IDENT"sv,
    "REMOTE_USER"sv,    "REQUEST_METHOD"sv,  "SCRIPT_NAME"sv,      "SERVER_NAME"sv,           "SERVER_PORT"sv,
    "SERVER_PROTOCOL"sv, "SERVER_SOFTWARE"sv, "SCRIPT_FILENAME"sv, "REQUEST_URI"sv,           "DOCUMENT_URI"sv,
    "DOCUMENT_ROOT"sv,  "REMOTE_PORT"sv,     "SERVER_ADDR"sv,      "HTTPS"sv,                 "REQUEST_SCHEME"sv,
    "REDIRECT_STATUS"sv, "CONTEXT_PREFIX"sv, "CONTEXT_DOCUMENT_ROOT"sv, "SERVER_ADMIN"sv,     "SERVER_SIGNATURE"sv,
    "UNIQUE_ID"sv,      "FCGI_ROLE"sv,       "FCGI_DATA_LAST_MOD"sv, "FCGI_DATA_LENGTH"sv,
};

// Names whose value an interpreter runs as code or a path it loads code
// from: fine from the host's environment (the operator's), never from a request.
constexpr std::array interpreter_variables{
    "PERL5OPT"sv,  "PERL5LIB"sv,    "PERLLIB"sv,       "PYTHONSTARTUP"sv, "PYTHONPATH"sv, "PYTHONHOME"sv,
    "PYTHONINSPECT"sv, "NODE_OPTIONS"sv, "NODE_PATH"sv, "RUBYOPT"sv,       "RUBYLIB"sv,    "IFS"sv,
    "SHELLOPTS"sv, "BASHOPTS"sv,    "PS4"sv,           "GCONV_PATH"sv,    "GLIBC_TUNABLES"sv, "HOSTALIASES"sv,
    "LOCPATH"sv,   "NLSPATH"sv,     "PROMPT_COMMAND"sv,
};

bool is_one_of(std::string_view name, const auto& list) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

bool allowed_from_request(std::string_view name, const std::vector<std::string>& added) {
  if (name.starts_with("HTTP_")) return name != "HTTP_PROXY";
  if (name.starts_with("SSL_")) return true;  // mod_ssl's client certificate variables
  return is_one_of(name, request_variables) || is_one_of(name, added);
}

// The host's "NAME=VALUE" entry for `name`.
std::optional<std::string_view> host_entry(const char* const* environment, std::string_view name) {
  for (auto entry = environment; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    if (text.size() > name.size() && text.starts_with(name) && text[name.size()] == '=') return text;
  }
  return std::nullopt;
}

}  // namespace

bool is_request_variable(std::string_view name) {
  return name.starts_with("HTTP_") || name.starts_with("SSL_") || name.starts_with("REDIRECT_") ||
         is_one_of(name, request_variables);
}

std::vector<std::string> worker_environment(const char* const* host_environment) {
  std::vector<std::string> kept;
  for (auto entry = host_environment; entry && *entry; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    if (is_request_variable(name) || name.starts_with("FCGIHOST_") || name.starts_with("LISTEN_") ||
        name.starts_with("WATCHDOG_") || name == "NOTIFY_SOCKET")
      continue;
    kept.emplace_back(text);
  }
  return kept;
}

bool never_in_script_environment(std::string_view name) {
  const bool word = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  return !word || name.starts_with("LD_") || name.starts_with("BASH_FUNC_") || name == "BASH_ENV" || name == "ENV";
}

std::string refused_environment_name(std::string_view name, bool value_from_request) {
  if (never_in_script_environment(name))
    return "'" + std::string(name) +
           "' never reaches a script: a variable name is letters, digits and '_', and LD_*, BASH_ENV, ENV and "
           "BASH_FUNC_* would let its value run code";
  if (value_from_request && is_one_of(name, interpreter_variables))
    return "'" + std::string(name) + "' would let a client's param choose code that a script's interpreter runs";
  if (value_from_request && name == "HTTP_PROXY")
    return "HTTP_PROXY comes from a client's Proxy: header (httpoxy): it never reaches a script";
  return {};
}

script_environment cgi_environment(const protocol::name_value_list& params, const script_location& script,
                                   const script_environment_names& names, const char* const* host_environment) {
  script_environment result;
  auto& environment = result.entries;
  environment.reserve(params.size() + names.from_host.size() + 3);
  std::unordered_set<std::string_view> taken;  // names already set: the first one wins

  const auto host_path = host_entry(host_environment, "PATH");
  if (host_path)
    environment.emplace_back(*host_path);
  else
    environment.push_back("PATH=" + std::string(fallback_path));
  taken.insert("PATH");
  for (const auto& name : names.from_host) {
    if (!refused_environment_name(name, false).empty() || !taken.insert(name).second) continue;
    if (const auto entry = host_entry(host_environment, name)) environment.emplace_back(*entry);
  }

  // Set here, so the params below cannot contradict what was found.
  environment.push_back("SCRIPT_FILENAME=" + script.requested_file);
  taken.insert("SCRIPT_FILENAME");
  if (const auto* sent = protocol::find_value(params, "PATH_INFO"); (!sent || sent->empty()) && !script.path_info.empty()) {
    environment.push_back("PATH_INFO=" + script.path_info);
    taken.insert("PATH_INFO");
    // The web server put the whole path in SCRIPT_NAME too: CGI wants it
    // without PATH_INFO. One with a NUL byte is dropped below, as any value is.
    if (const auto* name = protocol::find_value(params, "SCRIPT_NAME");
        name && name->size() > script.path_info.size() && name->ends_with(script.path_info) &&
        name->find('\0') == std::string::npos) {
      environment.push_back("SCRIPT_NAME=" + name->substr(0, name->size() - script.path_info.size()));
      taken.insert("SCRIPT_NAME");
    }
  }

  for (const auto& [name, value] : params) {
    const bool allowed = allowed_from_request(name, names.from_request) && refused_environment_name(name, true).empty();
    if (!allowed || value.find('\0') != std::string::npos) {
      result.dropped.push_back(name);
      continue;
    }
    if (!taken.insert(name).second) continue;
    environment.push_back(name + "=" + value);
  }
  if (taken.insert("GATEWAY_INTERFACE").second) environment.emplace_back("GATEWAY_INTERFACE=CGI/1.1");
  return result;
}

}  // namespace fcgihost::runners
