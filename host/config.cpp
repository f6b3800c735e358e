#include "config.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <protocol/byte_size.hpp>

namespace fcgihost::host {

const char* const host_usage = R"(usage: fcgi-host [options]

Serves FastCGI requests: SCRIPT_FILENAME "PLUGIN.HANDLER" runs a handler of
PLUGINS/libPLUGIN.so, an absolute path runs a script of the scripts folder;
config routes map other names to either.

  --listen ADDRESS       unix:PATH, tcp:HOST:PORT, tcp:[V6]:PORT or fd:N (repeatable);
                         default: fd 0 when it is a listening socket, else
                         systemd's LISTEN_FDS, else tcp:127.0.0.1:9000
  --backlog N            listen backlog (1024)
  --socket-mode MODE     octal mode of unix sockets the host creates (0660)
  --plugins DIR          the plugins folder
  --scripts DIR          the scripts folder: an absolute SCRIPT_FILENAME inside it
                         runs as a CGI script
  --pass-env NAME        a variable of the host's environment that scripts get
                         too (repeatable; PATH always)
  --kill-grace SECONDS   from SIGTERM to SIGKILL for a script being stopped (3)
  --script-cpu-seconds N, --script-memory BYTES[K|M|G], --script-open-files N,
  --script-processes N   rlimits for scripts (0: the host's own)
  --timeout SECONDS      per-request timeout, 0 for none (30)
  --timeout-status N     what a timed-out request answers: 408 or 504 (408)
  --idle-timeout S       close a keep-alive connection with nothing in flight
                         after this long, 0 for never (90)
  --read-timeout S       close a connection stopped in the middle of a record or
                         of a request's PARAMS for this long, 0 for never (10)
  --drain-timeout S      how long SIGTERM waits for requests in flight (10)
  --max-connections N    connections at once (1024), reported as FCGI_MAX_CONNS
  --max-requests N       requests at once (1024), FCGI_MAX_REQS; more get OVERLOADED
  --max-params-bytes N   size cap of one request's params (1048576)
  --max-body-bytes N     size cap of one request body, 0 for none (2 GiB); more gets 413
  --full-duplex BOOL     send output while the body is still arriving (false:
                         held until FCGI_STDIN ends, as nginx needs)
  --io-threads N         threads doing socket I/O and running handlers (1);
                         more start when all have been in handlers for 2 ms
  --max-workers N        plugin handlers running at once (64); more wait
  --config FILE          TOML file with the same keys (without "--") and [[route]]s
  --log-level LEVEL      trace, debug, info, warn, error (info)
  --log-file FILE        log here instead of stderr
  -h, --help             this text

Signals: SIGHUP reloads the config file, SIGTERM drains and exits 0, a second
SIGINT exits at once.
)";

namespace {

std::size_t parse_count(const std::string& key, const std::string& value, std::size_t low, std::size_t high) {
  std::size_t number = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc{} || ptr != value.data() + value.size() || number < low || number > high)
    throw std::invalid_argument(key + " takes a whole number from " + std::to_string(low) + " to " +
                                std::to_string(high) + ", not '" + value + "'");
  return number;
}

std::chrono::milliseconds parse_duration(const std::string& key, const std::string& value) {
  double seconds = -1;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc{} || ptr != value.data() + value.size() || seconds < 0 || seconds > 86400 * 365)
    throw std::invalid_argument(key + " takes a number of seconds (0 for none), not '" + value + "'");
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
}

// Bytes, or with a binary suffix: 512K, 64M, 2G.
std::uint64_t parse_bytes(const std::string& key, const std::string& value) {
  const auto bytes = protocol::parse_byte_size(value);
  if (!bytes)
    throw std::invalid_argument(key + " takes a number of bytes, with K, M or G if you like, not '" + value + "'");
  return *bytes;
}

// The settings a script route may set for itself too. False: not one of them.
bool apply_script_limit(runners::script_limit_overrides& limits, const std::string& key, const std::string& value) {
  constexpr std::size_t big = 1'000'000'000;
  if (key == "kill-grace")
    limits.kill_grace = parse_duration(key, value);
  else if (key == "script-cpu-seconds")
    limits.cpu_seconds = parse_count(key, value, 0, big);
  else if (key == "script-memory")
    limits.memory_bytes = parse_bytes(key, value);
  else if (key == "script-open-files")
    limits.open_files = parse_count(key, value, 0, big);
  else if (key == "script-processes")
    limits.processes = parse_count(key, value, 0, big);
  else
    return false;
  return true;
}

std::string toml_scalar_text(const toml::node& node) {
  if (auto text = node.value<std::string>()) return *text;
  if (auto flag = node.value_exact<bool>()) return *flag ? "true" : "false";
  if (auto integer = node.value_exact<std::int64_t>()) return std::to_string(*integer);
  if (auto real = node.value_exact<double>()) {
    std::ostringstream out;
    out << *real;
    return out.str();
  }
  throw std::invalid_argument("expected a string or a number");
}

route_rule parse_route(const toml::table& table) {
  route_rule rule;
  const bool has_glob = table.contains("match");
  const bool has_prefix = table.contains("prefix");
  if (has_glob == has_prefix) throw std::invalid_argument("a [[route]] needs exactly one of match (glob) or prefix");
  rule.match = has_glob ? route_rule::match_kind::glob : route_rule::match_kind::prefix;
  rule.pattern = table[has_glob ? "match" : "prefix"].value_or(std::string());
  if (rule.pattern.empty()) throw std::invalid_argument("a [[route]] pattern must be a non-empty string");
  if (auto function = table["function"].value<std::string>()) {
    rule.runner = route_rule::runner_kind::function;
    rule.target = *function;
    const auto dot = rule.target.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == rule.target.size())
      throw std::invalid_argument("a route's function is PLUGIN.HANDLER, not '" + rule.target + "'");
  } else if (auto script = table["script"].value<std::string>()) {
    rule.runner = route_rule::runner_kind::script;
    rule.target = *script;
  } else {
    throw std::invalid_argument("a [[route]] needs function = \"PLUGIN.HANDLER\" or script = \"PATH\"");
  }
  for (const auto& [name, node] : table) {
    const std::string key(name.str());
    if (key == "match" || key == "prefix" || key == "function" || key == "script") continue;
    if (key == "timeout")
      rule.timeout = parse_duration(key, toml_scalar_text(node));
    else if (!apply_script_limit(rule.limits, key, toml_scalar_text(node)))
      throw std::invalid_argument("a [[route]] takes match or prefix, function or script, timeout, kill-grace and "
                                  "script-* limits, not '" + key + "'");
  }
  return rule;
}

}  // namespace

void apply_setting(host_config& config, const std::string& key, const std::string& value) {
  constexpr std::size_t big = 1'000'000'000;
  if (apply_script_limit(config.script_limits, key, value)) return;
  if (key == "listen") {
    config.listen.push_back(value);
  } else if (key == "backlog") {
    config.backlog = static_cast<int>(parse_count(key, value, 1, 65535));
  } else if (key == "socket-mode") {
    unsigned mode = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), mode, 8);
    if (ec != std::errc{} || ptr != value.data() + value.size() || mode > 0777)
      throw std::invalid_argument("socket-mode takes an octal mode such as 0660, not '" + value + "'");
    config.socket_mode = static_cast<mode_t>(mode);
  } else if (key == "plugins") {
    config.plugins_dir = value;
  } else if (key == "scripts") {
    config.scripts_dir = value;
  } else if (key == "pass-env") {
    if (value.empty() || value.find('=') != std::string::npos)
      throw std::invalid_argument("pass-env takes the name of an environment variable, not '" + value + "'");
    config.pass_env.push_back(value);
  } else if (key == "timeout") {
    config.timeout = parse_duration(key, value);
  } else if (key == "timeout-status") {
    if (value != "408" && value != "504")
      throw std::invalid_argument("timeout-status takes 408 or 504, not '" + value + "'");
    config.timeout_status = value == "408" ? 408 : 504;
  } else if (key == "idle-timeout") {
    config.idle_timeout = parse_duration(key, value);
  } else if (key == "read-timeout") {
    config.read_timeout = parse_duration(key, value);
  } else if (key == "drain-timeout") {
    config.drain_timeout = parse_duration(key, value);
  } else if (key == "max-connections") {
    config.max_connections = parse_count(key, value, 1, big);
  } else if (key == "max-requests") {
    config.max_requests = parse_count(key, value, 1, big);
  } else if (key == "max-params-bytes") {
    config.max_params_bytes = parse_count(key, value, 256, big);
  } else if (key == "full-duplex") {
    if (value == "true" || value == "yes" || value == "1")
      config.full_duplex = true;
    else if (value == "false" || value == "no" || value == "0")
      config.full_duplex = false;
    else
      throw std::invalid_argument("full-duplex takes true or false, not '" + value + "'");
  } else if (key == "max-body-bytes") {
    config.max_body_bytes = parse_count(key, value, 0, std::numeric_limits<std::size_t>::max());
  } else if (key == "io-threads") {
    config.io_threads = parse_count(key, value, 1, 256);
  } else if (key == "min-workers") {
    throw std::invalid_argument("min-workers is no longer a setting: handlers run on the I/O threads (io-threads)");
  } else if (key == "max-workers") {
    config.max_workers = parse_count(key, value, 1, 4096);
  } else if (key == "log-level") {
    if (value != "trace" && value != "debug" && value != "info" && value != "warn" && value != "error" &&
        value != "critical" && value != "off")
      throw std::invalid_argument("log-level takes trace, debug, info, warn, error, critical or off, not '" + value +
                                  "'");
    config.log_level = value;
  } else if (key == "log-file") {
    config.log_file = value;
  } else {
    throw std::invalid_argument("unknown setting '" + key + "'");
  }
}

void load_config_file(host_config& config, const std::filesystem::path& file) {
  toml::table table;
  try {
    table = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream why;
    why << file.string() << ":" << e.source().begin.line << ": " << e.description();
    throw std::runtime_error(why.str());
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const auto line = node.source().begin.line;
    try {
      if (name == "route") {
        const auto* routes = node.as_array();
        if (!routes) throw std::invalid_argument("route must be an array of tables: [[route]]");
        for (const auto& entry : *routes) {
          const auto* route = entry.as_table();
          if (!route) throw std::invalid_argument("each [[route]] must be a table");
          config.routes.push_back(parse_route(*route));
        }
      } else if (const auto* list = node.as_array()) {
        for (const auto& item : *list) apply_setting(config, name, toml_scalar_text(item));
      } else {
        apply_setting(config, name, toml_scalar_text(node));
      }
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + e.what());
    }
  }
}

command_line parse_command_line(const std::vector<std::string>& arguments) {
  command_line line;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& arg = arguments[i];
    if (arg == "-h" || arg == "--help") {
      line.help = true;
      continue;
    }
    if (!arg.starts_with("--")) throw std::invalid_argument("unexpected argument '" + arg + "'");
    std::string key = arg.substr(2);
    std::string value;
    if (const auto equals = key.find('='); equals != std::string::npos) {
      value = key.substr(equals + 1);
      key.resize(equals);
    } else {
      if (i + 1 >= arguments.size()) throw std::invalid_argument(arg + " needs a value");
      value = arguments[++i];
    }
    if (key == "config")
      line.config_file = value;
    else
      line.settings.emplace_back(key, value);
  }
  // Checked now, so a typo fails before anything starts.
  host_config scratch;
  for (const auto& [key, value] : line.settings) apply_setting(scratch, key, value);
  return line;
}

host_config build_config(const command_line& line) {
  host_config config;
  if (line.config_file) load_config_file(config, *line.config_file);
  // Flags win: a --listen replaces the file's list rather than adding to it.
  bool listen_from_flags = false;
  for (const auto& [key, value] : line.settings) {
    if (key == "listen" && !listen_from_flags) {
      config.listen.clear();
      listen_from_flags = true;
    }
    apply_setting(config, key, value);
  }
  return config;
}

}  // namespace fcgihost::host
