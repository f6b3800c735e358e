// What the host and a worker process agree on. A worker is the host's own
// binary started as `fcgi-host --worker PLUGIN ...`; it serves one FastCGI
// connection (the host is its client) and loads the one plugin it is given.
#pragma once

#include <cstddef>
#include <string_view>

namespace fcgihost::runners::worker_protocol {

inline constexpr std::string_view flag = "--worker";

// Descriptors a worker starts with.
inline constexpr int socket_fd = 3;       // its FastCGI connection to the host
inline constexpr int crash_report_fd = 4; // a pipe: what it writes when it dies of a signal
inline constexpr int plugin_fd = 5;       // the plugin's private copy, opened by the host
// A memfd holding the plugin's settings ([plugin.NAME] of the host's config)
// as FastCGI name-value pairs: a descriptor, not arguments, because any user
// can read a process's arguments (ps) and settings hold passwords.
inline constexpr int settings_fd = 6;

// The host's own names on the worker hop. Every param a web server sends
// with this prefix is dropped when the request arrives at the host, so only
// the host can say these words to a worker.
inline constexpr std::string_view host_param_prefix = "FCGIHOST_";

// The param the host appends to say which handler runs; never seen by the handler.
inline constexpr std::string_view handler_param = "FCGIHOST_WORKER_HANDLER";
static_assert(handler_param.starts_with(host_param_prefix));

// GET_VALUES names a worker answers once its plugin is loaded: the handlers
// it exports (comma-separated), or why it cannot be loaded.
inline constexpr std::string_view handlers_value = "FCGIHOST_HANDLERS";
inline constexpr std::string_view load_error_value = "FCGIHOST_LOAD_ERROR";

// A request body up to this size is read whole before the request goes to
// a worker, and kept so that it can be sent to another (see worker_job).
inline constexpr std::size_t small_body_bytes = 64 * 1024;

// Unasked, just before a request's END_REQUEST: "REQUEST_ID MICROSECONDS
// OUTCOME", how long its handler ran in the worker and how the worker's
// session ended it (its request_outcome word). The host tells quick handlers
// from slow ones by it: the time a request holds its worker, as the host
// sees it, includes the worker's wait for a CPU.
inline constexpr std::string_view run_time_value = "FCGIHOST_RUN_US";

}  // namespace fcgihost::runners::worker_protocol
