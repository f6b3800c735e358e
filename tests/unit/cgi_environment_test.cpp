// A script's environment from a request's params: what is kept, what is
// dropped and what the host sets itself. Found by the script_request fuzzer:
// a SCRIPT_NAME with a NUL byte was shortened and kept, NUL and all.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <runners/script/cgi_environment.hpp>

namespace fcgihost::runners {
namespace {

using namespace std::string_literals;

const char* const host_environment[] = {"PATH=/usr/bin:/bin", "SECRET=x", "LD_PRELOAD=/x.so", "HOME=/root",
                                        nullptr};

// A script found at /srv/scripts/env.sh with /extra/info after it.
script_location env_script_with_path_info() {
  script_location where;
  where.result = script_location::verdict::runnable;
  where.requested_file = "/srv/scripts/env.sh";
  where.real_file = "/srv/scripts/env.sh";
  where.path_info = "/extra/info";
  return where;
}

bool has(const script_environment& environment, const std::string& entry) {
  return std::ranges::find(environment.entries, entry) != environment.entries.end();
}

bool has_name(const script_environment& environment, const std::string& name) {
  return std::ranges::any_of(environment.entries, [&](const std::string& entry) { return entry.starts_with(name + "="); });
}

bool was_dropped(const script_environment& environment, const std::string& name) {
  return std::ranges::find(environment.dropped, name) != environment.dropped.end();
}

TEST(CgiEnvironment, TheHostsPathComesFirstAndNothingElseOfItsOwnUnlessPassed) {
  const auto environment = cgi_environment({}, env_script_with_path_info(), {.from_host = {"SECRET"}, .from_request = {}}, host_environment);
  ASSERT_FALSE(environment.entries.empty());
  EXPECT_EQ(environment.entries.front(), "PATH=/usr/bin:/bin");
  EXPECT_TRUE(has(environment, "SECRET=x"));
  EXPECT_FALSE(has_name(environment, "HOME"));
  EXPECT_TRUE(has(environment, "GATEWAY_INTERFACE=CGI/1.1"));
}

TEST(CgiEnvironment, PathInfoIsTakenOffScriptName) {
  const protocol::name_value_list params{{"SCRIPT_NAME", "/env.sh/extra/info"}};
  const auto environment = cgi_environment(params, env_script_with_path_info(), {}, host_environment);
  EXPECT_TRUE(has(environment, "SCRIPT_FILENAME=/srv/scripts/env.sh"));
  EXPECT_TRUE(has(environment, "PATH_INFO=/extra/info"));
  EXPECT_TRUE(has(environment, "SCRIPT_NAME=/env.sh"));
}

TEST(CgiEnvironment, AValueWithANulByteIsDroppedEvenAScriptNameTheHostWouldShorten) {
  const protocol::name_value_list params{{"SCRIPT_NAME", "/env\0.sh/extra/info"s},
                                         {"QUERY_STRING", "a=\0b"s},
                                         {"REQUEST_METHOD", "GET"}};
  const auto environment = cgi_environment(params, env_script_with_path_info(), {}, host_environment);
  for (const auto& entry : environment.entries) EXPECT_EQ(entry.find('\0'), std::string::npos) << entry;
  EXPECT_FALSE(has_name(environment, "SCRIPT_NAME"));
  EXPECT_TRUE(was_dropped(environment, "SCRIPT_NAME"));
  EXPECT_TRUE(was_dropped(environment, "QUERY_STRING"));
  EXPECT_TRUE(has(environment, "REQUEST_METHOD=GET"));
  EXPECT_TRUE(has(environment, "PATH_INFO=/extra/info"));
}

TEST(CgiEnvironment, ParamsThatWouldRunCodeOrRedirectTrafficAreDropped) {
  const protocol::name_value_list params{{"LD_PRELOAD", "/tmp/evil.so"},   {"BASH_FUNC_x%%", "() { id; }"},
                                         {"HTTP_PROXY", "http://evil:1"}, {"PERL5OPT", "-Mevil"},
                                         {"PATH", "/tmp"},                {"HTTP_HOST", "example.org"}};
  const auto environment = cgi_environment(params, env_script_with_path_info(), {}, host_environment);
  for (const std::string name : {"LD_PRELOAD", "BASH_FUNC_x%%", "HTTP_PROXY", "PERL5OPT", "PATH"})
    EXPECT_TRUE(was_dropped(environment, name)) << name;
  EXPECT_EQ(environment.entries.front(), "PATH=/usr/bin:/bin");
  EXPECT_TRUE(has(environment, "HTTP_HOST=example.org"));
}

TEST(CgiEnvironment, TheFirstOfTwoParamsWithOneNameWins) {
  const protocol::name_value_list params{{"QUERY_STRING", "first"}, {"QUERY_STRING", "second"}};
  const auto environment = cgi_environment(params, env_script_with_path_info(), {}, host_environment);
  EXPECT_TRUE(has(environment, "QUERY_STRING=first"));
  EXPECT_FALSE(has(environment, "QUERY_STRING=second"));
}

}  // namespace
}  // namespace fcgihost::runners
