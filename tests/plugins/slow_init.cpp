// A plugin whose static initialiser takes 2 s, as one that connects to a
// database at load time might: its loading must hold up nobody else.
#include <fcgihost/plugin.hpp>

#include <chrono>
#include <thread>

namespace {

const bool slow_start = [] {
  std::this_thread::sleep_for(std::chrono::seconds(2));
  return true;
}();

int ready(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\n" << (slow_start ? "ready\n" : "not ready\n");
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(ready)
