#include "utc_time.hpp"

#include <fmt/format.h>

#include <ctime>

namespace fcgihost::host {

std::string utc_text(std::chrono::system_clock::time_point at, bool milliseconds) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(at);
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  std::string text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", utc.tm_year + 1900, utc.tm_mon + 1,
                                 utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
  if (milliseconds)
    text += fmt::format(".{:03}", std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count() % 1000);
  return text + "Z";
}

}  // namespace fcgihost::host
