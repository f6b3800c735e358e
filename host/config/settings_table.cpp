#include "settings_table.hpp"

#include <charconv>
#include <initializer_list>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string_view>

#include <fcgihost/protocol/byte_size.hpp>
#include <runners/script/cgi_environment.hpp>

namespace fcgihost::host {

namespace {

constexpr std::size_t big = 1'000'000'000;

std::size_t parse_count(const std::string& key, const std::string& value, std::size_t low, std::size_t high) {
  std::size_t number = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc{} || ptr != value.data() + value.size() || number < low || number > high)
    throw std::invalid_argument(key + " takes a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", not '" + value + "'");
  return number;
}

// Bytes, or with a binary suffix: 512K, 64M, 2G.
std::uint64_t parse_bytes(const std::string& key, const std::string& value) {
  const auto bytes = protocol::parse_byte_size(value);
  if (!bytes)
    throw std::invalid_argument(key + " takes a number of bytes, with K, M or G if you like, not '" + value + "'");
  return *bytes;
}

// `value` if it is one of `choices`; else "KEY takes A, B or C, not 'VALUE'".
const std::string& one_of(const std::string& key, const std::string& value,
                          std::initializer_list<std::string_view> choices) {
  std::string listed;
  std::size_t i = 0;
  for (const auto choice : choices) {
    if (value == choice) return value;
    listed += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choice);
    ++i;
  }
  throw std::invalid_argument(key + " takes " + listed + ", not '" + value + "'");
}

bool parse_bool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "yes" || value == "1") return true;
  if (value == "false" || value == "no" || value == "0") return false;
  throw std::invalid_argument(key + " takes true or false, not '" + value + "'");
}

std::string show_seconds(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", std::chrono::duration<double>(duration).count());
  return text;
}

std::string show_list(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text.empty() ? "none" : text;
}

std::string show_path(const std::filesystem::path& path) { return path.empty() ? "none" : path.string(); }

// A row for a plain member: parsed as a whole, shown, and copied.
template <typename Value, typename Parse, typename Show>
setting_spec field(std::string_view key, std::string_view value_name, std::string_view help, takes_effect scope,
                   Value host_config::*member, Parse parse, Show show) {
  return setting_spec{
      .key = key,
      .value_name = value_name,
      .help = help,
      .scope = scope,
      .apply = [=](host_config& config, const std::string& value) { config.*member = parse(std::string(key), value); },
      .show = [=](const host_config& config) -> std::string { return show(config.*member); },
      .keep = [=](const host_config& from, host_config& to) { to.*member = from.*member; }};
}

// A row for a list that each use of the key adds to.
setting_spec list_field(std::string_view key, std::string_view value_name, std::string_view help, takes_effect scope,
                        std::vector<std::string> host_config::*member,
                        std::function<void(const std::string& value)> check = {}) {
  return setting_spec{.key = key,
                      .value_name = value_name,
                      .help = help,
                      .scope = scope,
                      .apply =
                          [=](host_config& config, const std::string& value) {
                            if (check) check(value);
                            (config.*member).push_back(value);
                          },
                      .show = [=](const host_config& config) { return show_list(config.*member); },
                      .keep = [=](const host_config& from, host_config& to) { to.*member = from.*member; },
                      .repeatable = true};
}

// A row for a script limit, which routes may set too.
template <typename Value, typename Parse, typename Show>
setting_spec script_limit(std::string_view key, std::string_view value_name, std::string_view help,
                          std::optional<Value> runners::script_limit_overrides::*member, Value runners::script_limits::*effective,
                          Parse parse, Show show) {
  return setting_spec{
      .key = key,
      .value_name = value_name,
      .help = help,
      .scope = takes_effect::each_request,
      .apply = [=](host_config& config,
                   const std::string& value) { config.script_limits.*member = parse(std::string(key), value); },
      .show =
          [=](const host_config& config) -> std::string {
            runners::script_limits limits;
            config.script_limits.apply_to(limits);
            return show(limits.*effective);
          },
      .keep = [=](const host_config& from, host_config& to) { to.script_limits.*member = from.script_limits.*member; }};
}

auto count_in(std::size_t low, std::size_t high) {
  return [=](const std::string& key, const std::string& value) { return parse_count(key, value, low, high); };
}
const auto show_number = [](auto number) { return std::to_string(number); };

std::vector<setting_spec> make_table() {
  using enum takes_effect;
  std::vector<setting_spec> rows;
  rows.push_back(list_field("listen", "ADDRESS",
                            "unix:PATH, tcp:HOST:PORT, tcp:[V6]:PORT or fd:N (repeatable; port 0: any free one); "
                            "default: fd 0 when it is a listening socket, else systemd's LISTEN_FDS, else "
                            "tcp:127.0.0.1:9000",
                            at_start, &host_config::listen));
  rows.push_back(field("allow-any-peer", "BOOL",
                       "start on a TCP address other machines reach (not loopback) without FCGI_WEB_SERVER_ADDRS: "
                       "say so only when a firewall lets in just the web servers",
                       at_start, &host_config::allow_any_peer, parse_bool,
                       [](bool on) { return std::string(on ? "true" : "false"); }));
  rows.push_back(field("backlog", "N", "listen backlog", at_start, &host_config::backlog,
                       [](const std::string& key, const std::string& value) {
                         return static_cast<int>(parse_count(key, value, 1, 65535));
                       },
                       show_number));
  rows.push_back(field(
      "socket-mode", "MODE", "octal mode of unix sockets the host creates", at_start, &host_config::socket_mode,
      [](const std::string& key, const std::string& value) {
        unsigned mode = 0;
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), mode, 8);
        if (ec != std::errc{} || ptr != value.data() + value.size() || mode > 0777)
          throw std::invalid_argument(key + " takes an octal mode such as 0660, not '" + value + "'");
        return static_cast<mode_t>(mode);
      },
      [](mode_t mode) {
        char text[8];
        std::snprintf(text, sizeof text, "0%o", static_cast<unsigned>(mode));
        return std::string(text);
      }));
  const auto path = [](const std::string&, const std::string& value) { return std::filesystem::path(value); };
  rows.push_back(field("plugins", "DIR", "the plugins folder", at_start, &host_config::plugins_dir, path, show_path));
  rows.push_back(field("scripts", "DIR", "the scripts folder: an absolute SCRIPT_FILENAME inside it runs as a CGI script",
                       at_start, &host_config::scripts_dir, path, show_path));
  const auto environment_name = [](bool value_from_request) {
    return [value_from_request](const std::string& value) {
      if (const auto why = runners::refused_environment_name(value, value_from_request); !why.empty())
        throw std::invalid_argument(std::string(value_from_request ? "script-env" : "pass-env") + ": " + why);
    };
  };
  rows.push_back(list_field("pass-env", "NAME",
                            "a variable of the host's environment that scripts get too (repeatable; PATH always)",
                            each_request, &host_config::pass_env, environment_name(false)));
  rows.push_back(list_field("script-env", "NAME",
                            "a param that scripts get too, beyond the CGI variables and HTTP_* (repeatable)",
                            each_request, &host_config::script_env, environment_name(true)));
  rows.push_back(script_limit("kill-grace", "SECONDS",
                              "from SIGTERM to SIGKILL for a script being stopped, and from ABORT_REQUEST to SIGKILL "
                              "for a worker whose handler does not return",
                              &runners::script_limit_overrides::kill_grace, &runners::script_limits::kill_grace,
                              parse_seconds, show_seconds));
  rows.push_back(script_limit("script-cpu-seconds", "N", "RLIMIT_CPU of scripts, 0 for the host's own",
                              &runners::script_limit_overrides::cpu_seconds, &runners::script_limits::cpu_seconds,
                              count_in(0, big), show_number));
  rows.push_back(script_limit("script-memory", "BYTES", "RLIMIT_AS of scripts (K, M or G allowed), 0 for the host's own",
                              &runners::script_limit_overrides::memory_bytes, &runners::script_limits::memory_bytes,
                              parse_bytes, show_number));
  rows.push_back(script_limit("script-open-files", "N", "RLIMIT_NOFILE of scripts, 0 for the host's own",
                              &runners::script_limit_overrides::open_files, &runners::script_limits::open_files,
                              count_in(0, big), show_number));
  rows.push_back(script_limit("script-processes", "N", "RLIMIT_NPROC of scripts (not for root), 0 for the host's own",
                              &runners::script_limit_overrides::processes, &runners::script_limits::processes,
                              count_in(0, big), show_number));
  rows.push_back(field("timeout", "SECONDS", "per-request timeout from BEGIN_REQUEST, 0 for none", each_request,
                       &host_config::timeout, parse_seconds, show_seconds));
  rows.push_back(field("timeout-status", "N", "what a timed-out request answers: 408 or 504", each_request,
                       &host_config::timeout_status,
                       [](const std::string& key, const std::string& value) {
                         return one_of(key, value, {"408", "504"}) == "408" ? 408 : 504;
                       },
                       show_number));
  rows.push_back(field("idle-timeout", "SECONDS", "close a keep-alive connection with nothing in flight, 0 for never",
                       each_request, &host_config::idle_timeout, parse_seconds, show_seconds));
  rows.push_back(field("read-timeout", "SECONDS",
                       "close a connection stopped in the middle of a record or of a request's PARAMS, 0 for never",
                       each_request, &host_config::read_timeout, parse_seconds, show_seconds));
  rows.push_back(field("drain-timeout", "SECONDS", "how long SIGTERM waits for requests in flight", each_request,
                       &host_config::drain_timeout, parse_seconds, show_seconds));
  rows.push_back(field("shutdown-timeout", "SECONDS",
                       "after the drain, how long the host waits for its workers to leave (their plugins' shutdown "
                       "runs) before it kills them",
                       each_request, &host_config::shutdown_timeout, parse_seconds, show_seconds));
  rows.push_back(field("max-connections", "N",
                       "connections at once, FCGI_MAX_CONNS; past it the longest silent one is closed",
                       each_request, &host_config::max_connections, count_in(1, big), show_number));
  rows.push_back(field("max-requests", "N", "requests running at once, FCGI_MAX_REQS; more get OVERLOADED",
                       each_request, &host_config::max_requests, count_in(1, big), show_number));
  rows.push_back(field("max-params-bytes", "N", "size cap of one request's params", each_request,
                       &host_config::max_params_bytes, count_in(256, big), show_number));
  rows.push_back(field("max-body-bytes", "N", "size cap of one request body, 0 for none; more gets 413", each_request,
                       &host_config::max_body_bytes, count_in(0, std::numeric_limits<std::size_t>::max()),
                       show_number));
  rows.push_back(field("full-duplex", "BOOL",
                       "send output while the body is still arriving (false: held until FCGI_STDIN ends, as nginx "
                       "needs)",
                       each_request, &host_config::full_duplex, parse_bool,
                       [](bool on) { return std::string(on ? "true" : "false"); }));
  rows.push_back(field("io-threads", "N",
                       "threads doing socket I/O and timers, and running handlers proven quick (the fast path); "
                       "one held for 2 ms by such a handler is replaced",
                       at_start, &host_config::io_threads, count_in(1, 256), show_number));
  rows.push_back(field("handler-threads", "N", "plugin handlers running at once on the handler pool; more wait",
                       at_start, &host_config::handler_threads, count_in(1, 4096), show_number));
  rows.back().old_key = "max-workers";  // it counts threads; --workers counts processes
  rows.push_back(field("isolation", "MODE",
                       "where plugin handlers run: process (supervised worker processes: a crash or a hang costs one "
                       "request) or none (in the host: trusted handlers only); routes may set their own",
                       each_request, &host_config::isolation, parse_isolation, show_isolation));
  rows.push_back(field("workers", "N", "worker processes per plugin at most (isolation = process)", at_start,
                       &host_config::workers, count_in(1, 4096), show_number));
  rows.push_back(field("workers-policy", "POLICY",
                       "dynamic (started on demand, spares kept, idle ones leave) or static (all started at once)",
                       at_start, &host_config::workers_static,
                       [](const std::string& key, const std::string& value) {
                         return one_of(key, value, {"dynamic", "static"}) == "static";
                       },
                       [](bool fixed) { return std::string(fixed ? "static" : "dynamic"); }));
  rows.push_back(field("workers-min-idle", "N", "spare workers a dynamic pool keeps per plugin", at_start,
                       &host_config::workers_min_idle, count_in(0, 4096), show_number));
  rows.push_back(field("workers-idle-timeout", "SECONDS", "a spare worker beyond workers-min-idle leaves after this",
                       at_start, &host_config::workers_idle_timeout, parse_seconds, show_seconds));
  rows.push_back(field("workers-queue", "N",
                       "requests that may wait for a busy plugin's workers; more are refused (when-overloaded); 0: as "
                       "many as max-requests",
                       at_start, &host_config::workers_queue, count_in(0, big), show_number));
  rows.push_back(field("worker-pipeline", "N",
                       "requests of a quick handler sent to one worker at once, to wait there rather than in the "
                       "host (1: one at a time, as php-fpm)",
                       at_start, &host_config::worker_pipeline, count_in(1, 64), show_number));
  rows.push_back(field("when-overloaded", "ANSWER",
                       "what a request past workers-queue gets: overloaded (FastCGI OVERLOADED) or 503", each_request,
                       &host_config::when_overloaded, parse_overload_answer, show_overload_answer));
  rows.push_back(field("worker-max-requests", "N", "a worker is replaced after this many requests, 0 for never",
                       at_start, &host_config::worker_max_requests, count_in(0, big), show_number));
  rows.push_back(field("worker-max-memory", "BYTES",
                       "a worker whose RSS passes this after a request is replaced (K, M or G allowed), 0 for no limit",
                       at_start, &host_config::worker_max_memory, parse_bytes, show_number));
  rows.push_back(field("worker-nice", "N",
                       "nice value of worker processes (0-19), so that busy handlers never starve the host's own "
                       "work: deadlines, I/O", at_start, &host_config::worker_nice,
                       [](const std::string& key, const std::string& value) {
                         return static_cast<int>(parse_count(key, value, 0, 19));
                       },
                       show_number));
  rows.push_back(field("worker-memory", "BYTES", "RLIMIT_AS of each worker (K, M or G allowed), 0 for the host's own",
                       at_start, &host_config::worker_memory, parse_bytes, show_number));
  rows.push_back(field("worker-open-files", "N", "RLIMIT_NOFILE of each worker, 0 for the host's own", at_start,
                       &host_config::worker_open_files, count_in(0, big), show_number));
  rows.push_back(field("worker-processes", "N", "RLIMIT_NPROC of each worker (not for root), 0 for the host's own",
                       at_start, &host_config::worker_processes, count_in(0, big), show_number));
  const auto text = [](const std::string&, const std::string& value) { return value; };
  const auto text_or = [](const char* none) {
    return [none](const std::string& value) { return value.empty() ? std::string(none) : value; };
  };
  rows.push_back(field("user", "NAME", "when the host runs as root: the user workers and scripts run as", at_start,
                       &host_config::user, text, text_or("the host's")));
  rows.push_back(field("group", "NAME", "with user: their group", at_start, &host_config::group, text,
                       text_or("the user's own")));
  // A SCRIPT_NAME the host answers itself, or off.
  const auto host_path = [](const std::string& key, const std::string& value) {
    if (value.empty() || value == "off") return std::string();
    if (value.front() != '/')
      throw std::invalid_argument(key + " takes a path starting with '/' (or off), not '" + value + "'");
    return value;
  };
  const auto path_or_off = [](const std::string& value) { return value.empty() ? std::string("off") : value; };
  rows.push_back(field("ping-path", "PATH",
                       "SCRIPT_NAME the host answers itself with 200 pong, 503 while draining (for load balancers)",
                       each_request, &host_config::ping_path, host_path, path_or_off));
  rows.push_back(field("slow-threshold", "SECONDS",
                       "log a request (URI, route, its worker or script and the script's processes) when it has "
                       "run this long and still runs, 0 for never",
                       each_request, &host_config::slow_threshold, parse_seconds, show_seconds));
  rows.push_back(field("status-path", "PATH",
                       "SCRIPT_NAME the host answers itself with its status page: text, ?json or ?openmetrics; "
                       "&full (or ?full) adds each request in flight and each worker",
                       each_request, &host_config::status_path, host_path, path_or_off));
  rows.push_back(list_field("status-listen", "ADDRESS",
                            "a listener of its own for the ping and status paths only (as --listen; repeatable): "
                            "answered even when --max-connections is reached",
                            at_start, &host_config::status_listen));
  rows.push_back(field("log-level", "LEVEL", "trace, debug, info, warn, error, critical or off", each_request,
                       &host_config::log_level,
                       [](const std::string& key, const std::string& value) {
                         return one_of(key, value, {"trace", "debug", "info", "warn", "error", "critical", "off"});
                       },
                       [](const std::string& level) { return level; }));
  rows.push_back(field("log-file", "FILE", "log here instead of stderr", at_start, &host_config::log_file,
                       [](const std::string&, const std::string& value) { return value; },
                       [](const std::string& file) { return file.empty() ? std::string("stderr") : file; }));
  rows.push_back(field("access-log-format", "FORMAT",
                       "text, or json: each access line a JSON object on a line of its own (for log shippers)",
                       at_start, &host_config::access_log_format,
                       [](const std::string& key, const std::string& value) {
                         return one_of(key, value, {"text", "json"});
                       },
                       [](const std::string& format) { return format; }));
  return rows;
}

}  // namespace

std::chrono::milliseconds parse_seconds(const std::string& key, const std::string& value) {
  double seconds = -1;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || ptr != value.data() + value.size() || seconds < 0 || seconds > 86400 * 365)
    throw std::invalid_argument(key + " takes a number of seconds (0 for none), not '" + value + "'");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
}

isolation_mode parse_isolation(const std::string& key, const std::string& value) {
  return one_of(key, value, {"process", "none"}) == "process" ? isolation_mode::process : isolation_mode::none;
}

std::string show_isolation(isolation_mode mode) { return mode == isolation_mode::process ? "process" : "none"; }

overload_answer parse_overload_answer(const std::string& key, const std::string& value) {
  return one_of(key, value, {"overloaded", "503"}) == "503" ? overload_answer::service_unavailable
                                                             : overload_answer::overloaded;
}

std::string show_overload_answer(overload_answer answer) {
  return answer == overload_answer::overloaded ? "overloaded" : "503";
}

bool apply_script_limit(runners::script_limit_overrides& limits, const std::string& key, const std::string& value) {
  if (key != "kill-grace" && !key.starts_with("script-")) return false;
  const setting_spec* row = find_setting(key);
  if (!row) return false;
  host_config scratch;
  scratch.script_limits = limits;
  row->apply(scratch, value);
  limits = scratch.script_limits;
  return true;
}

const std::vector<setting_spec>& settings_table() {
  static const std::vector<setting_spec> table = make_table();
  return table;
}

const setting_spec* find_setting(std::string_view key) {
  for (const auto& row : settings_table())
    if (row.key == key || (!row.old_key.empty() && row.old_key == key)) return &row;
  return nullptr;
}

std::string restart_only_changes(const host_config& running, const host_config& fresh) {
  std::string changed;
  for (const auto& row : settings_table())
    if (row.scope == takes_effect::at_start && row.show(running) != row.show(fresh))
      changed += (changed.empty() ? "" : ", ") + std::string(row.key);
  return changed;
}

void keep_restart_only_settings(const host_config& running, host_config& fresh) {
  for (const auto& row : settings_table())
    if (row.scope == takes_effect::at_start) row.keep(running, fresh);
}

}  // namespace fcgihost::host
