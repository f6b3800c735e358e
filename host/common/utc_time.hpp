// A moment as UTC text, ISO 8601: "2026-11-30T18:15:05Z", or with
// milliseconds "2026-11-30T18:15:05.123Z" (the status page, JSON access lines).
#pragma once

#include <chrono>
#include <string>

namespace fcgihost::host {

std::string utc_text(std::chrono::system_clock::time_point at, bool milliseconds = false);
// Seconds since the Unix epoch, with their fraction.
inline double unix_seconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

}  // namespace fcgihost::host
