// Every fcgi-host setting in one table: its key (the flag without "--" and
// the TOML key), what its value looks like, its help, how it is parsed and
// shown, and when a change takes effect. The usage text, the flag and TOML
// parsing, the defaults shown in --help and the reload diff all come from it,
// so a new setting is one row.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <host/config/config.hpp>

namespace fcgihost::host {

enum class takes_effect {
  at_start,     // fixed when the host starts (sockets, folders, threads): a reload keeps the running value
  each_request  // after a reload, every connection uses it from its next request on
};

struct setting_spec {
  std::string_view key;
  std::string_view value_name;  // for the usage text: SECONDS, N, DIR...
  std::string_view help;
  takes_effect scope;
  // Sets (or, for a repeatable key, adds) the value; throws
  // std::invalid_argument naming the key and what it takes.
  std::function<void(host_config&, const std::string& value)> apply;
  // The value as text: the default in --help, and what a reload compares.
  std::function<std::string(const host_config&)> show;
  // Copies this setting from one config to another (a reload keeps at_start ones).
  std::function<void(const host_config& from, host_config& to)> keep;
  bool repeatable = false;
  // The name it had before, still accepted on the command line and in files.
  std::string_view old_key = {};
};

const std::vector<setting_spec>& settings_table();
// The row of `key` (or of its old name); nullptr for none.
const setting_spec* find_setting(std::string_view key);

// Seconds as a duration (fractions allowed; 0 for none); throws
// std::invalid_argument naming the key.
std::chrono::milliseconds parse_seconds(const std::string& key, const std::string& value);
// Applies `key` if it is one of the script limits (kill-grace, script-*),
// which routes may set too; false if it is not one.
bool apply_script_limit(runners::script_limit_overrides& limits, const std::string& key, const std::string& value);

isolation_mode parse_isolation(const std::string& key, const std::string& value);
std::string show_isolation(isolation_mode mode);
overload_answer parse_overload_answer(const std::string& key, const std::string& value);
std::string show_overload_answer(overload_answer answer);

// The --help text.
std::string usage_text();
// docs/settings.md: every setting, its default and when a change takes effect.
std::string settings_reference();

// The at_start settings whose value differs, by key ("io-threads, listen").
std::string restart_only_changes(const host_config& running, const host_config& fresh);
// Puts the running value of every at_start setting into `fresh`.
void keep_restart_only_settings(const host_config& running, host_config& fresh);

}  // namespace fcgihost::host
