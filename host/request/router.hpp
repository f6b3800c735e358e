// SCRIPT_FILENAME to what serves it, in the order the design fixes: a config
// route; else a name without '/' is PLUGIN.HANDLER; else an absolute path is
// a script (confined to the scripts folder by the script runner). Anything
// else resolves to nothing, with the reason.
#pragma once

#include <chrono>
#include <string>

#include <fcgihost/protocol/name_value.hpp>

#include <host/config/config.hpp>

namespace fcgihost::host {

struct resolved_target {
  enum class kind { function, script, none };
  kind type = kind::none;
  std::string script_filename;  // what was resolved (for the log)
  std::string plugin;           // function
  std::string handler;          // function
  std::string script;           // script: the path asked for (relative: to the scripts folder)
  std::chrono::milliseconds timeout{0};
  runners::script_limits limits;  // script
  isolation_mode isolation = isolation_mode::process;  // function
  overload_answer when_overloaded = overload_answer::overloaded;
  std::string reason;           // none: why
  route_metrics* metrics = nullptr;  // the [[route]]'s figures, when one matched
};

// An Authorizer request is served only by a route with role = "authorizer",
// matched against the path of the protected request's REQUEST_URI (else
// SCRIPT_NAME + PATH_INFO); responder requests never reach such a route.
resolved_target resolve_target(const protocol::name_value_list& params, const host_config& config,
                               fcgi_role role = fcgi_role::responder);

// In the host, as a request's PARAMS arrive: drops every param in the host's
// own namespace (worker_protocol::host_param_prefix), which only the host may
// send to a worker. Returns how many it dropped.
std::size_t drop_host_params(protocol::name_value_list& params);

// In a worker process: the handler of `plugin` the host named, taken out of
// `params` so that the handler never sees it.
resolved_target resolve_worker_target(protocol::name_value_list& params, const std::string& plugin);

}  // namespace fcgihost::host
