// Exports two inits, which no host can choose between: it is refused.
#include <fcgihost/plugin.hpp>

namespace {

void first(const fcgihost::plugin_config&) {}
void second(const fcgihost::plugin_config&) {}

int hello(fcgihost::request& r) {
  r.respond(200, "text/plain");
  r.out() << "never\n";
  return 0;
}

}  // namespace

FCGIHOST_INIT(first)
FCGIHOST_INIT(second)
FCGIHOST_HANDLER(hello)
