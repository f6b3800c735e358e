// The settings table as people read it: `fcgi-host --help`, and the
// reference page docs/settings.md (a test keeps that page and the table the same).
#include "settings_table.hpp"

#include <fmt/format.h>

namespace fcgihost::host {

namespace {

// Wraps `text` to `width` columns, every line after the first indented.
std::string wrapped(std::string_view text, std::size_t indent, std::size_t width) {
  std::string out;
  std::size_t column = indent;
  while (!text.empty()) {
    const auto space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    if (column > indent && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out.append(word);
    column += word.size();
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
  }
  return out;
}

}  // namespace

std::string usage_text() {
  constexpr std::size_t help_column = 26;
  constexpr std::size_t width = 100;
  const host_config defaults;
  std::string text = R"(usage: fcgi-host [options]

Serves FastCGI requests: SCRIPT_FILENAME "PLUGIN.HANDLER" runs a handler of
PLUGINS/libPLUGIN.so, an absolute path runs a script of the scripts folder;
config routes map other names to either.

)";
  for (const auto& row : settings_table()) {
    std::string flag = "  --" + std::string(row.key) + " " + std::string(row.value_name);
    flag += flag.size() + 1 < help_column ? std::string(help_column - flag.size(), ' ') : "\n" + std::string(help_column, ' ');
    std::string help(row.help);
    if (!row.repeatable) help += " (default: " + row.show(defaults) + ")";
    if (row.scope == takes_effect::at_start) help += " [restart]";
    if (!row.old_key.empty()) help += " (also --" + std::string(row.old_key) + ")";
    text += flag + wrapped(help, help_column, width) + "\n";
  }
  text += R"(  --config FILE           TOML file with the same keys (without "--") and [[route]]s
  -h, --help              this text

Signals: SIGHUP reloads the config file (settings marked [restart] keep their
value until a restart; the rest apply to every connection from its next
request on), SIGTERM drains and exits 0, a second SIGINT exits at once,
SIGUSR2 starts the binary now at this one's path on the same sockets and
drains once it serves (a new build that fails to start changes nothing).
)";
  return text;
}

std::string settings_reference() {
  const host_config defaults;
  std::string page = R"(# Settings

<!-- Generated from host/config/settings_table.cpp: edit the table, then run
     FCGIHOST_WRITE_DOCS=1 build/tests/host_unit_test --gtest_filter='SettingsReference.*' -->

Each setting is a flag (`--KEY VALUE` or `--KEY=VALUE`) and a key of the
config file (`--config FILE`, TOML: `KEY = VALUE`, a list for a repeatable
one); a flag wins over the file. `fcgi-host --help` prints the same list.

*Takes effect*: **restart**, fixed when the host starts (a SIGHUP reload
keeps the running value and logs that it did); **next request**, after a
SIGHUP reload every connection uses it from its next request on. Routes
(`[[route]]`) and plugin settings (`[plugin.NAME]`) are described in
[serving.md](serving.md) and [sdk.md](sdk.md).

| Setting | Value | Default | Takes effect | What it does |
|---|---|---|---|---|
)";
  const auto cell = [](std::string_view text) {
    std::string escaped;
    for (const char c : text) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
    return escaped;
  };
  for (const auto& row : settings_table()) {
    std::string key = "`" + std::string(row.key) + "`";
    if (!row.old_key.empty()) key += " (was `" + std::string(row.old_key) + "`)";
    const std::string shown = row.repeatable ? "none" : row.show(defaults);
    page += "| " + key + " | " + std::string(row.value_name) + (row.repeatable ? ", repeatable" : "") + " | `" +
            cell(shown) + "` | " + (row.scope == takes_effect::at_start ? "restart" : "next request") + " | " +
            cell(row.help) + " |\n";
  }
  return page;
}

}  // namespace fcgihost::host
