// The one table of settings: the usage text, flag and TOML parsing and the
// reload diff all come from it.
#include <host/config/config.hpp>
#include <host/config/settings_table.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

namespace fcgihost::host {
namespace {

TEST(SettingsTable, KeysAreUniqueAndEachHasHelpAndAValueName) {
  std::set<std::string_view> keys;
  for (const auto& row : settings_table()) {
    EXPECT_TRUE(keys.insert(row.key).second) << row.key << " twice";
    EXPECT_FALSE(row.help.empty()) << row.key;
    EXPECT_FALSE(row.value_name.empty()) << row.key;
  }
  EXPECT_GE(keys.size(), 25u);
}

TEST(SettingsTable, TheUsageNamesEveryKeyWithItsDefault) {
  const std::string usage = usage_text();
  for (const auto& row : settings_table())
    EXPECT_NE(usage.find("--" + std::string(row.key) + " "), std::string::npos) << row.key;
  EXPECT_NE(usage.find("per-request timeout from BEGIN_REQUEST, 0 for none (default: 30)"), std::string::npos) << usage;
  EXPECT_NE(usage.find("(default: 90)"), std::string::npos) << "the idle timeout's default, from host_config";
  EXPECT_NE(usage.find("(default: 0660) [restart]"), std::string::npos) << usage;
}

TEST(SettingsTable, AnOldNameSetsTheRenamedSetting) {
  host_config config;
  apply_setting(config, "max-workers", "7");
  EXPECT_EQ(config.handler_threads, 7u);
  ASSERT_NE(find_setting("max-workers"), nullptr);
  EXPECT_EQ(find_setting("max-workers")->key, "handler-threads");
  EXPECT_NE(usage_text().find("(also --max-workers)"), std::string::npos);
}

TEST(SettingsTable, EveryKeyParsesWhatItShowsForItsDefault) {
  const host_config defaults;
  for (const auto& row : settings_table()) {
    if (row.repeatable) continue;
    std::string shown = row.show(defaults);
    if (shown == "none" || shown == "stderr") shown = "x";
    host_config config;
    EXPECT_NO_THROW(apply_setting(config, std::string(row.key), shown)) << row.key << " = " << shown;
    if (shown != "x") {
      EXPECT_EQ(row.show(config), row.show(defaults)) << row.key;
    }
  }
}

TEST(SettingsTable, BadValuesAreRefusedWithTheKeyAndWhatItTakes) {
  host_config config;
  try {
    apply_setting(config, "timeout-status", "500");
    FAIL() << "500 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "timeout-status takes 408 or 504, not '500'");
  }
  EXPECT_THROW(apply_setting(config, "read-timeout", "soon"), std::invalid_argument);
  EXPECT_THROW(apply_setting(config, "no-such-setting", "1"), std::invalid_argument);
  apply_setting(config, "listen", "unix:/a");
  apply_setting(config, "listen", "tcp:127.0.0.1:1");
  EXPECT_EQ(config.listen.size(), 2u) << "repeatable keys add";
}

TEST(SettingsTable, AReloadKeepsStartOnlySettingsAndNamesThem) {
  host_config running;
  host_config fresh;
  apply_setting(fresh, "io-threads", "3");
  apply_setting(fresh, "listen", "unix:/elsewhere");
  apply_setting(fresh, "timeout", "5");
  EXPECT_EQ(restart_only_changes(running, fresh), "listen, io-threads");
  keep_restart_only_settings(running, fresh);
  EXPECT_EQ(fresh.io_threads, running.io_threads);
  EXPECT_TRUE(fresh.listen.empty());
  EXPECT_EQ(fresh.timeout, std::chrono::milliseconds(5000)) << "applies at once";
  EXPECT_EQ(restart_only_changes(running, fresh), "");
}

TEST(SettingsTable, RoutesTakeTheScriptLimits) {
  runners::script_limit_overrides limits;
  EXPECT_TRUE(apply_script_limit(limits, "script-memory", "64M"));
  EXPECT_TRUE(apply_script_limit(limits, "kill-grace", "1.5"));
  EXPECT_FALSE(apply_script_limit(limits, "timeout", "1"));
  EXPECT_EQ(limits.memory_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(limits.kill_grace, std::chrono::milliseconds(1500));
}

// A plugin's table reaches it as text (by name: a TOML table has no order);
// what a plugin could not
// take as text is refused with the line of the value at fault. A reload
// reloads exactly the plugins whose tables differ.
TEST(SettingsTable, PluginTablesAreTextAndReloadOnlyWhatChanged) {
  const auto file = std::filesystem::temp_directory_path() / ("settings_table_test_" + std::to_string(::getpid()) + ".toml");
  const auto load = [&](const std::string& text) {
    std::ofstream(file) << text;
    host_config config;
    load_config_file(config, file);
    return config;
  };
  const auto config = load("[plugin.api]\ndatabase = \"pg://db\"\npool = 8\nratio = 0.5\ndebug = true\n[plugin.other]\nx = \"1\"\n");
  using settings = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config.plugin_settings.at("api"),
            (settings{{"database", "pg://db"}, {"debug", "true"}, {"pool", "8"}, {"ratio", "0.5"}}));
  EXPECT_EQ(config.plugin_settings.at("other"), (settings{{"x", "1"}}));

  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"[plugin.api]\nok = 1\nhosts = [\"a\", \"b\"]\n", ":3: [plugin.api] hosts: a plugin's settings are strings"},
           {"[plugin.api.pool]\nsize = 1\n", ":1: [plugin.api] pool: a plugin's settings are strings"},
           {"[plugin.api]\nwhen = 1979-05-27\n", ":2: [plugin.api] when: a plugin's settings are strings"},
           {"plugin = 3\n", ":1: plugin settings are tables: [plugin.NAME]"},
           {"[plugin]\napi = 3\n", ":2: [plugin.api] must be a table"}}) {
    try {
      load(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  std::filesystem::remove(file);

  auto changed = config;
  changed.plugin_settings["api"][2].second = "16";  // changed
  changed.plugin_settings.erase("other");            // removed
  changed.plugin_settings["new"] = {{"a", "b"}};     // added
  auto names = plugins_with_changed_settings(config, changed);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"api", "new", "other"}));
  EXPECT_TRUE(plugins_with_changed_settings(config, config).empty());
}

}  // namespace
// A status listener answers only the ping and status paths: without either
// it could answer nothing, so the host does not start.
TEST(SettingsTable, AStatusListenerNeedsAPingOrStatusPath) {
  const auto line = parse_command_line({"--status-listen", "unix:/tmp/status.sock"});
  try {
    build_config(line);
    ADD_FAILURE() << "a status listener without a path was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("set status-path or ping-path"), std::string::npos) << e.what();
  }
  const auto with_ping = parse_command_line({"--status-listen", "unix:/tmp/status.sock", "--ping-path", "/ping"});
  EXPECT_EQ(build_config(with_ping).status_listen, std::vector<std::string>{"unix:/tmp/status.sock"});
}

}  // namespace fcgihost::host

namespace fcgihost::host {
namespace {

// docs/settings.md is the table's page: a changed row without a regenerated
// page fails here. FCGIHOST_WRITE_DOCS=1 writes the page instead.
TEST(SettingsReference, TheDocsPageIsTheTablesPage) {
  const std::filesystem::path page = std::filesystem::path(FCGIHOST_SOURCE_DIR) / "docs" / "settings.md";
  const std::string generated = settings_reference();
  if (const char* write = std::getenv("FCGIHOST_WRITE_DOCS"); write && std::string(write) == "1") {
    std::ofstream(page, std::ios::binary | std::ios::trunc) << generated;
    GTEST_SKIP() << "wrote " << page;
  }
  std::ifstream in(page, std::ios::binary);
  ASSERT_TRUE(in) << page << " is missing: run with FCGIHOST_WRITE_DOCS=1";
  const std::string on_disk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(on_disk, generated) << page << " differs from the settings table: run "
                                << "FCGIHOST_WRITE_DOCS=1 build/tests/host_unit_test --gtest_filter='SettingsReference.*'";
}

TEST(SettingsReference, EverySettingHasItsRow) {
  const std::string page = settings_reference();
  for (const auto& row : settings_table())
    EXPECT_NE(page.find("\n| `" + std::string(row.key) + "`"), std::string::npos) << row.key;
}

}  // namespace
}  // namespace fcgihost::host
