#include "router.hpp"

#include <fnmatch.h>

#include <algorithm>

#include <runners/worker/worker_protocol.hpp>

namespace fcgihost::host {

namespace {

// FastCGI.jl and fcgiwrap do the same when a server sends no SCRIPT_FILENAME.
std::string script_filename_of(const protocol::name_value_list& params) {
  if (const auto* filename = protocol::find_value(params, "SCRIPT_FILENAME"); filename && !filename->empty())
    return *filename;
  const auto* root = protocol::find_value(params, "DOCUMENT_ROOT");
  const auto* name = protocol::find_value(params, "SCRIPT_NAME");
  if (!name || name->empty()) return {};
  return (root ? *root : std::string()) + *name;
}

// What an Authorizer request protects: the path of its URI. Not its
// SCRIPT_FILENAME, which Apache cuts to the longest part of the path that
// exists under its DocumentRoot (/srv/www/private for /private/a/b).
std::string protected_path_of(const protocol::name_value_list& params) {
  if (const auto* uri = protocol::find_value(params, "REQUEST_URI"); uri && !uri->empty())
    return uri->substr(0, uri->find('?'));
  const auto* name = protocol::find_value(params, "SCRIPT_NAME");
  const auto* info = protocol::find_value(params, "PATH_INFO");
  return (name ? *name : std::string()) + (info ? *info : std::string());
}

bool matches(const route_rule& rule, const std::string& name) {
  if (rule.match == route_rule::match_kind::prefix) return name.starts_with(rule.pattern);
  return ::fnmatch(rule.pattern.c_str(), name.c_str(), 0) == 0;
}

void set_function(resolved_target& target, const std::string& plugin_dot_handler) {
  const auto dot = plugin_dot_handler.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == plugin_dot_handler.size()) {
    target.reason = "'" + plugin_dot_handler + "' is not PLUGIN.HANDLER";
    return;
  }
  target.type = resolved_target::kind::function;
  target.plugin = plugin_dot_handler.substr(0, dot);
  target.handler = plugin_dot_handler.substr(dot + 1);
}

}  // namespace

resolved_target resolve_target(const protocol::name_value_list& params, const host_config& config, fcgi_role role) {
  resolved_target target;
  target.timeout = config.timeout;
  config.script_limits.apply_to(target.limits);
  target.isolation = config.isolation;
  target.when_overloaded = config.when_overloaded;
  target.script_filename = role == fcgi_role::authorizer ? protected_path_of(params) : script_filename_of(params);
  const std::string& name = target.script_filename;
  if (name.empty() && role == fcgi_role::responder) {
    target.reason = "the request has no SCRIPT_FILENAME (nor SCRIPT_NAME)";
    return target;
  }
  if (name.find('\0') != std::string::npos) {
    target.reason = "SCRIPT_FILENAME contains a NUL byte";
    return target;
  }
  for (const auto& rule : config.routes) {
    if (rule.role != role || !matches(rule, name)) continue;
    if (rule.timeout) target.timeout = *rule.timeout;
    rule.limits.apply_to(target.limits);
    if (rule.isolation) target.isolation = *rule.isolation;
    if (rule.when_overloaded) target.when_overloaded = *rule.when_overloaded;
    target.metrics = rule.metrics.get();
    if (rule.runner == route_rule::runner_kind::function) {
      set_function(target, rule.target);
    } else {
      target.type = resolved_target::kind::script;
      target.script = rule.target;
    }
    return target;
  }
  if (role == fcgi_role::authorizer) {
    target.reason = "no [[route]] with role = \"authorizer\" matches '" + name + "'";
    return target;
  }
  if (name.find('/') == std::string::npos) {
    set_function(target, name);
    return target;
  }
  if (name.starts_with('/')) {
    target.type = resolved_target::kind::script;
    target.script = name;
    return target;
  }
  target.reason = "'" + name + "' is neither PLUGIN.HANDLER nor an absolute script path";
  return target;
}

std::size_t drop_host_params(protocol::name_value_list& params) {
  return std::erase_if(params, [](const auto& pair) {
    return pair.name.starts_with(runners::worker_protocol::host_param_prefix);
  });
}

resolved_target resolve_worker_target(protocol::name_value_list& params, const std::string& plugin) {
  resolved_target target;
  const auto is_handler = [](const auto& pair) { return pair.name == runners::worker_protocol::handler_param; };
  const auto named = std::find_if(params.begin(), params.end(), is_handler);
  if (named == params.end()) {
    target.reason = "the host named no handler";
    return target;
  }
  // The host strips the name from what it receives and appends it once.
  if (std::count_if(params.begin(), params.end(), is_handler) != 1) {
    target.reason = "the request names its handler more than once";
    return target;
  }
  target.type = resolved_target::kind::function;
  target.isolation = isolation_mode::none;  // this process is the isolation
  target.plugin = plugin;
  target.handler = named->value;
  target.script_filename = plugin + "." + named->value;
  params.erase(named);
  return target;
}

}  // namespace fcgihost::host
