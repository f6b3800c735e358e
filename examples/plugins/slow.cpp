// slow.polite sleeps for the seconds in the query, but returns as soon as the
// host says stop; slow.stubborn ignores the stop token (the host must still
// answer 408 and stay healthy); slow.stream sends a line every 100 ms.
#include <fcgihost/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace {

double seconds_asked(const fcgihost::request& r) {
  const std::string query(r.param("QUERY_STRING"));
  return query.empty() ? 60.0 : std::stod(query);
}

int polite(fcgihost::request& r) {
  std::mutex m;
  std::condition_variable_any wake;
  std::unique_lock lock(m);
  auto token = r.stop_token();
  const bool stopped = wake.wait_for(lock, token, std::chrono::duration<double>(seconds_asked(r)), [] { return false; });
  (void)stopped;
  if (r.stop_requested()) return 1;
  r.out() << "Content-Type: text/plain\r\n\r\nslept\n";
  return 0;
}

int stubborn(fcgihost::request& r) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds_asked(r)));
  r.out() << "Content-Type: text/plain\r\n\r\ntoo late\n";
  return 0;
}

int stream(fcgihost::request& r) {
  const std::string query(r.param("QUERY_STRING"));
  const int lines = query.empty() ? 600 : std::stoi(query);
  r.out() << "Content-Type: text/plain\r\n\r\n" << std::flush;
  for (int i = 0; !r.stop_requested() && i < lines; ++i) {
    r.out() << "line " << i << "\n" << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(polite)
FCGIHOST_HANDLER(stubborn)
FCGIHOST_HANDLER(stream)
