// hello.greet: the smallest useful handler.
#include <fcgihost/plugin.hpp>

namespace {

int greet(fcgihost::request& r) {
  const auto name = r.param("QUERY_STRING");
  r.out() << "Content-Type: text/plain\r\n\r\nHello, " << (name.empty() ? "world" : name) << "!\n";
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(greet)
// The same handler under a second name: served as hello.say-hi too.
FCGIHOST_HANDLER_AS(greet, "say-hi")
