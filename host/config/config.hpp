// fcgi-host's settings: command-line flags and a TOML file (--config), flags
// win. Every setting goes through one setter, so a flag and a file key are
// checked the same way and fail with the same message.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <runners/script/script_limits.hpp>

#include <host/common/logging.hpp>

namespace fcgihost::host {

// Where a plugin's handlers run: in supervised worker processes (a crash or
// a hang costs one request), or in the host itself (trusted handlers only).
enum class isolation_mode { process, none };

// What a request that finds every worker busy and the queue full gets.
enum class overload_answer { overloaded, service_unavailable };

class route_metrics;

// The FastCGI role a request asks for (BEGIN_REQUEST), which a route serves.
// Filter is not served: no web server sends FCGI_DATA.
enum class fcgi_role { responder, authorizer };

struct route_rule {
  enum class match_kind { glob, prefix };
  enum class runner_kind { function, script };
  fcgi_role role = fcgi_role::responder;  // role = "authorizer": it serves only Authorizer requests
  match_kind match = match_kind::glob;
  std::string pattern;  // matched against SCRIPT_FILENAME
  runner_kind runner = runner_kind::function;
  std::string target;   // PLUGIN.HANDLER, or a script path
  std::optional<std::chrono::milliseconds> timeout;
  runners::script_limit_overrides limits;  // script routes
  std::optional<isolation_mode> isolation;  // function routes
  std::optional<overload_answer> when_overloaded;
  // Its figures for the status page (host_metrics::attach_routes).
  std::shared_ptr<route_metrics> metrics;
};

struct host_config {
  std::vector<std::string> listen;  // empty: fd 0, systemd, or tcp:127.0.0.1:9000
  int backlog = 1024;
  // FastCGI has no authentication: a TCP listener that other machines reach
  // needs FCGI_WEB_SERVER_ADDRS, or this said on purpose.
  bool allow_any_peer = false;
  mode_t socket_mode = 0660;
  std::filesystem::path plugins_dir;
  std::filesystem::path scripts_dir;
  // What scripts get beyond the CGI allow-list: the host's own variables
  // (pass-env; PATH always) and more params of the request (script-env).
  std::vector<std::string> pass_env;
  std::vector<std::string> script_env;
  runners::script_limit_overrides script_limits;
  // Below nginx's 60 s fastcgi_read_timeout, so clients see our 408, not a 504.
  std::chrono::milliseconds timeout{30'000};
  // 408 says the request did not arrive in time, and browsers such as Chrome
  // retry it by themselves; 504 is for sites that do not want that.
  int timeout_status = 408;
  // Longer than nginx's upstream keepalive_timeout (60 s), so nginx, which
  // reconnects at once, is the one that closes its idle connections.
  std::chrono::milliseconds idle_timeout{90'000};
  // A peer that stopped in the middle of a record or of a request's PARAMS.
  // A running request's wait for its body is bounded by its own deadline.
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds drain_timeout{10'000};
  // Then the workers' own exits: a plugin's shutdown (FCGIHOST_SHUTDOWN) may
  // flush or close what it holds. Under systemd, keep it within TimeoutStopSec.
  std::chrono::milliseconds shutdown_timeout{5'000};
  std::size_t max_connections = 1024;
  std::size_t max_requests = 1024;  // at once, over all connections
  std::size_t max_params_bytes = 1024 * 1024;
  // A request body larger than this is refused with 413: it would otherwise
  // fill the disk the spools use. 0: no limit.
  std::uint64_t max_body_bytes = 2ull * 1024 * 1024 * 1024;
  // Send output before the web server has sent all of FCGI_STDIN. Off by
  // default: nginx stops sending a body once the response starts, so the
  // host holds output (memory, then disk) until the body is in.
  bool full_duplex = false;
  // Threads serving sockets, timers and fast-path handlers (see
  // runners/io_threads.hpp). One: threads sharing an io_context take turns at
  // its lock and wake each other for every event (hello, 2 cores: 1 thread
  // 40k req/s at 64 in flight and 17k one at a time; 2 threads 34k and 10.5k).
  std::size_t io_threads = 1;
  // Plugin handlers running at once on the handler pool; more wait their turn.
  std::size_t handler_threads = 64;
  isolation_mode isolation = isolation_mode::process;
  // Worker processes, per plugin: see docs/workers.md.
  std::size_t workers = 64;
  bool workers_static = false;  // "static": all started at once and kept
  std::size_t workers_min_idle = 1;
  std::chrono::milliseconds workers_idle_timeout{10'000};
  // Requests waiting for a worker of one plugin; 0: as many as max-requests.
  std::size_t workers_queue = 0;
  // Requests of a quick handler sent to one worker at once (see worker_link).
  std::size_t worker_pipeline = 8;
  overload_answer when_overloaded = overload_answer::overloaded;
  std::size_t worker_max_requests = 0;  // then the worker is replaced; 0: never
  std::uint64_t worker_max_memory = 0;  // RSS after a request; 0: no limit
  // Workers run at this nice value, below the host: see docs/workers.md.
  int worker_nice = 10;
  // Limits of each worker process (0: the host's own).
  std::uint64_t worker_memory = 0;      // RLIMIT_AS
  std::uint64_t worker_open_files = 0;  // RLIMIT_NOFILE
  std::uint64_t worker_processes = 0;   // RLIMIT_NPROC
  // Who workers and scripts run as when the host runs as root (empty: as the host).
  std::string user;
  std::string group;
  // Answered by the host itself, matched against SCRIPT_NAME (empty: off).
  std::string ping_path;
  std::string status_path;
  std::vector<std::string> status_listen;  // listeners for the ping and status paths only
  // [plugin.NAME] tables of the config file: each plugin's own settings, as
  // text, handed to its init when a version of it is loaded.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>, std::less<>> plugin_settings;
  // Log (and count) a request still running this long after it began; 0: off.
  std::chrono::milliseconds slow_threshold{0};
  std::string log_level = "info";
  std::string log_file;  // empty: stderr
  // The access lines: "text" (in the log, as every other line) or "json"
  // (a JSON object per line, alone on its line, to the same place).
  std::string access_log_format = "text";
  std::vector<route_rule> routes;

  log_place where_to_log() const { return {log_file, log_level, access_log_format == "json"}; }
};

// Applies one setting by its file key (the flag without "--"); throws
// std::invalid_argument naming the key and what it takes.
void apply_setting(host_config& config, const std::string& key, const std::string& value);

// Reads a TOML file into `config`. Throws std::runtime_error with the file,
// line and reason.
void load_config_file(host_config& config, const std::filesystem::path& file);
// The same from the file's text; `source` says where it came from in errors.
void load_config_text(host_config& config, std::string_view text, const std::string& source);

struct command_line {
  std::optional<std::filesystem::path> config_file;
  std::vector<std::pair<std::string, std::string>> settings;  // in order
  bool help = false;
};

command_line parse_command_line(const std::vector<std::string>& arguments);

// The file (if any), then the flags.
host_config build_config(const command_line& line);

// The plugins whose [plugin.NAME] table differs between two configs (added,
// removed or changed): each is loaded anew with its new settings.
std::vector<std::string> plugins_with_changed_settings(const host_config& before, const host_config& after);


}  // namespace fcgihost::host
