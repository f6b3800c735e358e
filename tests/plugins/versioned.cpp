// A test plugin built twice (PLUGIN_VERSION 1 and 2) to check that a replaced
// plugin serves new requests with the new code while old ones finish on the old.
#include <fcgihost/plugin.hpp>

#include <chrono>
#include <string>
#include <thread>

namespace {

int which(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\nversion " << PLUGIN_VERSION << "\n";
  return PLUGIN_VERSION;
}

// Says which version started (flushed, so a test knows it runs), sleeps the
// seconds in the query, then says which version ends.
int wait(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\nversion " << PLUGIN_VERSION << " starts\n" << std::flush;
  std::this_thread::sleep_for(std::chrono::duration<double>(std::stod(std::string(r.param("QUERY_STRING")))));
  r.out() << "version " << PLUGIN_VERSION << " ends\n";
  return PLUGIN_VERSION;
}

}  // namespace

FCGIHOST_HANDLER(which)
FCGIHOST_HANDLER(wait)
