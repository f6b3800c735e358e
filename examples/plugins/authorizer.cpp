// authorizer.bearer: a FastCGI Authorizer (a [[route]] with role =
// "authorizer" sends it the web server's Authorizer requests). It lets
// through a request whose token (below) names a known user:
// Status 200, and Variable-AUTH_USER, which the web server hands on to what
// serves the request. Anything else gets the 401 it answers, as the FastCGI
// spec says. Its users: [plugin.authorizer] tokens = "TOKEN=USER,...".
#include <fcgihost/plugin.hpp>

#include <map>
#include <string>

namespace {

std::map<std::string, std::string, std::less<>> users_by_token;

void load_tokens(const fcgihost::plugin_config& config) {
  users_by_token.clear();
  std::string_view rest = config.value_or("tokens", "open-sesame=demo");
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto entry = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto equals = entry.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == entry.size())
      throw std::invalid_argument("tokens: '" + std::string(entry) + "' is not TOKEN=USER");
    users_by_token.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
}

// The token of the request: "Authorization: Bearer TOKEN" (lighttpd passes
// the header on), or Basic credentials USER:TOKEN, which Apache's
// mod_authnz_fcgi decodes into REMOTE_USER and REMOTE_PASSWD.
auto user_of(const fcgihost::request& r) {
  constexpr std::string_view scheme = "Bearer ";
  if (const auto header = r.param("HTTP_AUTHORIZATION"); header.starts_with(scheme))
    return users_by_token.find(header.substr(scheme.size()));
  const auto found = users_by_token.find(r.param("REMOTE_PASSWD"));
  if (found != users_by_token.end() && found->second == r.param("REMOTE_USER")) return found;
  return users_by_token.end();
}

int bearer(fcgihost::request& r) {
  const auto user = user_of(r);
  if (user == users_by_token.end()) {
    r.out() << "Status: 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n\r\nA valid bearer token is needed here.\n";
    return 0;
  }
  r.out() << "Status: 200 OK\r\nVariable-AUTH_USER: " << user->second << "\r\n\r\n";
  return 0;
}

}  // namespace

FCGIHOST_INIT(load_tokens)
FCGIHOST_HANDLER(bearer)
