// A plugin whose static initialiser aborts, as one whose configuration is
// missing might: it is answered "cannot be loaded", and nothing else dies.
#include <fcgihost/plugin.hpp>

#include <cstdlib>

namespace {

const bool never = [] {
  std::abort();
  return true;
}();

int unreachable(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\nloaded after all\n";
  return never ? 0 : 1;
}

}  // namespace

FCGIHOST_HANDLER(unreachable)
