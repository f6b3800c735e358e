// The C++ SDK's conveniences, one handler each:
//   sdk_tour.greet   ?name=Ada%20L  -> "Hello, Ada L!" (query decoded, respond())
//   sdk_tour.login   POST name=...&remember=on -> sets a cookie; GET shows it
//   sdk_tour.nap     ?seconds=N: sleeps, or returns early when the request is stopped
//   sdk_tour.small   the body, at most 16 bytes (413 past that, from read_body)
#include <fcgihost/plugin.hpp>

#include <chrono>
#include <string>

namespace {

int greet(fcgihost::request& r) {
  const auto& query = r.query();
  r.respond(200, "text/plain; charset=utf-8");
  r.out() << "Hello, " << query.value_or("name", "world") << "!\n";
  for (const auto tag : query.all("tag")) r.out() << "tag: " << tag << "\n";
  return 0;
}

int login(fcgihost::request& r) {
  if (r.param("REQUEST_METHOD") == "POST") {
    const auto& form = r.form();
    const std::string name(form.value_or("name", ""));
    if (name.empty()) throw fcgihost::http_error(400, "A name is needed.");
    // Only letters and digits go into the cookie: nothing a client sends can split the header.
    for (const char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c))) throw fcgihost::http_error(422, "Letters and digits only.");
    r.respond(303, "text/plain", {{"Set-Cookie", "user=" + name + "; HttpOnly"}, {"Location", "/login"}});
    r.out() << "Welcome, " << name << ".\n";
    return 0;
  }
  const auto user = r.cookie("user");
  r.respond(user ? 200 : 401, "text/plain");
  r.out() << (user ? "Signed in as " + *user : std::string("Not signed in")) << "\n";
  return 0;
}

int nap(fcgihost::request& r) {
  const double seconds = std::stod(std::string(r.query().value_or("seconds", "1")));
  const auto began = std::chrono::steady_clock::now();
  const bool slept = r.sleep_for(std::chrono::duration<double>(seconds));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  r.err() << "sdk_tour.nap: " << (slept ? "slept" : "stopped") << " after " << took << " s\n" << std::flush;
  if (!slept) return 1;
  r.respond(200, "text/plain");
  r.out() << "slept " << seconds << " s\n";
  return 0;
}

int small(fcgihost::request& r) {
  const std::string body = r.read_body(16);
  r.respond(200, "application/octet-stream");
  r.out() << body;
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(greet)
FCGIHOST_HANDLER(login)
FCGIHOST_HANDLER(nap)
FCGIHOST_HANDLER(small)
