// A fcgi-host plugin: one handler, and an init that reads the plugin's
// settings ([plugin.my_plugin] of the host's config) once, when it is loaded.
#include <fcgihost/plugin.hpp>

#include <string>

namespace {

std::string greeting = "Hello";

// Open your database connection or read your files here: it runs once per
// load (in each worker process), before any request. A throw makes every
// request for the plugin a 500 with its message.
void start(const fcgihost::plugin_config& config) { greeting = config.value_or("greeting", "Hello"); }

// GET ...?name=Ada -> "Hello, Ada!"
int hello(fcgihost::request& r) {
  const auto name = r.query().value_or("name", "world");
  if (name.size() > 100) throw fcgihost::http_error(422, "That name is too long.");
  r.respond(200, "text/plain; charset=utf-8");
  r.out() << greeting << ", " << name << "!\n";
  return 0;
}

}  // namespace

FCGIHOST_INIT(start)
FCGIHOST_HANDLER(hello)  // SCRIPT_FILENAME "my_plugin.hello"
