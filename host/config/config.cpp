#include "config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include <host/config/config_shape.hpp>
#include <host/config/settings_table.hpp>

namespace fcgihost::host {

namespace {

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

// [plugin.NAME] key = value: each plugin's own settings, as text, for its
// init. Errors name the line of the value at fault.
void read_plugin_tables(const toml::node& node, const std::string& file, host_config& config) {
  const auto at = [&file](const toml::node& where, const std::string& why) {
    return std::runtime_error(file + ":" + std::to_string(where.source().begin.line) + ": " + why);
  };
  const auto* plugins = node.as_table();
  if (!plugins) throw at(node, "plugin settings are tables: [plugin.NAME]");
  for (const auto& [plugin_key, plugin_node] : *plugins) {
    const std::string plugin(plugin_key.str());
    const auto* settings = plugin_node.as_table();
    if (!settings) throw at(plugin_node, "[plugin." + plugin + "] must be a table");
    auto& into = config.plugin_settings[plugin];
    for (const auto& [setting, value] : *settings) {
      if (!value.is_string() && !value.is_integer() && !value.is_floating_point() && !value.is_boolean())
        throw at(value, "[plugin." + plugin + "] " + std::string(setting.str()) +
                            ": a plugin's settings are strings, numbers or booleans (it gets them as text)");
      into.emplace_back(std::string(setting.str()), toml_scalar_text(value));
    }
  }
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
    if (key == "role") {
      const std::string role = toml_scalar_text(node);
      if (role != "responder" && role != "authorizer")
        throw std::invalid_argument("a route's role is \"responder\" or \"authorizer\", not '" + role + "'");
      rule.role = role == "authorizer" ? fcgi_role::authorizer : fcgi_role::responder;
    } else if (key == "timeout")
      rule.timeout = parse_seconds(key, toml_scalar_text(node));
    else if (key == "isolation")
      rule.isolation = parse_isolation(key, toml_scalar_text(node));
    else if (key == "when-overloaded")
      rule.when_overloaded = parse_overload_answer(key, toml_scalar_text(node));
    else if (!apply_script_limit(rule.limits, key, toml_scalar_text(node)))
      throw std::invalid_argument("a [[route]] takes match or prefix, function or script, role, timeout, "
                                  "isolation, when-overloaded, kill-grace and script-* limits, not '" + key + "'");
  }
  return rule;
}

}  // namespace

void apply_setting(host_config& config, const std::string& key, const std::string& value) {
  if (key == "min-workers")
    throw std::invalid_argument("min-workers is no longer a setting: handlers run on the I/O threads (io-threads)");
  const setting_spec* row = find_setting(key);
  if (!row) throw std::invalid_argument("unknown setting '" + key + "'");
  row->apply(config, value);
}

void load_config_file(host_config& config, const std::filesystem::path& file) {
  // Non-blocking and a regular file only: a FIFO named by mistake would hold
  // the start (or a SIGHUP's reload) for ever, /dev/zero take its memory.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(file.string() + ": cannot be read: " + std::strerror(errno));
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(fd);
    throw std::runtime_error(file.string() + ": not a regular file");
  }
  const config_shape_limits limits;
  std::string text;
  char buffer[65536];
  ssize_t got = 0;
  while (text.size() <= limits.max_bytes && (got = ::read(fd, buffer, sizeof buffer)) > 0)
    text.append(buffer, static_cast<std::size_t>(got));
  const int read_error = got < 0 ? errno : 0;
  ::close(fd);
  if (read_error != 0) throw std::runtime_error(file.string() + ": cannot be read: " + std::strerror(read_error));
  load_config_text(config, text, file.string());
}

void load_config_text(host_config& config, std::string_view text, const std::string& source) {
  if (const auto problem = config_shape_problem(text); !problem.empty())
    throw std::runtime_error(source + ": " + problem);
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream why;
    why << source << ":" << e.source().begin.line << ": " << e.description();
    throw std::runtime_error(why.str());
  }
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const auto line = node.source().begin.line;
    try {
      if (name == "plugin") {
        read_plugin_tables(node, source, config);
      } else if (name == "route") {
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
      throw std::runtime_error(source + ":" + std::to_string(line) + ": " + e.what());
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
  bool listen_from_flags = false, status_listen_from_flags = false;
  for (const auto& [key, value] : line.settings) {
    if (key == "listen" && !listen_from_flags) {
      config.listen.clear();
      listen_from_flags = true;
    }
    if (key == "status-listen" && !status_listen_from_flags) {
      config.status_listen.clear();
      status_listen_from_flags = true;
    }
    apply_setting(config, key, value);
  }
  if (!config.status_listen.empty() && config.status_path.empty() && config.ping_path.empty())
    throw std::invalid_argument("status-listen serves only the ping and status paths: set status-path or ping-path");
  return config;
}

std::vector<std::string> plugins_with_changed_settings(const host_config& before, const host_config& after) {
  std::vector<std::string> changed;
  for (const auto& [plugin, settings] : before.plugin_settings) {
    const auto now = after.plugin_settings.find(plugin);
    if (now == after.plugin_settings.end() || now->second != settings) changed.push_back(plugin);
  }
  for (const auto& [plugin, settings] : after.plugin_settings)
    if (!before.plugin_settings.contains(plugin)) changed.push_back(plugin);
  return changed;
}

}  // namespace fcgihost::host
