#include "cgi_environment.hpp"

#include <optional>
#include <unordered_set>

namespace fcgihost::runners {

namespace {

bool usable_name(std::string_view name) {
  return !name.empty() && name.find_first_of(std::string_view("=\0", 2)) == std::string_view::npos;
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

std::vector<std::string> cgi_environment(const protocol::name_value_list& params, const script_location& script,
                                         const std::vector<std::string>& pass_env,
                                         const char* const* host_environment) {
  std::vector<std::string> environment;
  environment.reserve(params.size() + pass_env.size() + 3);
  std::unordered_set<std::string_view> taken;  // names already set: the first one wins

  const auto host_path = host_entry(host_environment, "PATH");
  if (host_path)
    environment.emplace_back(*host_path);
  else
    environment.push_back("PATH=" + std::string(fallback_path));
  taken.insert("PATH");
  for (const auto& name : pass_env) {
    if (!usable_name(name) || !taken.insert(name).second) continue;
    if (const auto entry = host_entry(host_environment, name)) environment.emplace_back(*entry);
  }

  // Set here, so the params below cannot contradict what was found.
  environment.push_back("SCRIPT_FILENAME=" + script.requested_file);
  taken.insert("SCRIPT_FILENAME");
  if (const auto* sent = protocol::find_value(params, "PATH_INFO"); (!sent || sent->empty()) && !script.path_info.empty()) {
    environment.push_back("PATH_INFO=" + script.path_info);
    taken.insert("PATH_INFO");
    // The web server put the whole path in SCRIPT_NAME too: CGI wants it without PATH_INFO.
    if (const auto* name = protocol::find_value(params, "SCRIPT_NAME");
        name && name->size() > script.path_info.size() && name->ends_with(script.path_info)) {
      environment.push_back("SCRIPT_NAME=" + name->substr(0, name->size() - script.path_info.size()));
      taken.insert("SCRIPT_NAME");
    }
  }
  taken.insert("HTTP_PROXY");

  for (const auto& [name, value] : params) {
    if (!usable_name(name) || value.find('\0') != std::string::npos) continue;
    if (!taken.insert(name).second) continue;
    environment.push_back(name + "=" + value);
  }
  if (taken.insert("GATEWAY_INTERFACE").second) environment.emplace_back("GATEWAY_INTERFACE=CGI/1.1");
  return environment;
}

}  // namespace fcgihost::runners
