// One worker process now, as the status page's full view shows it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fcgihost::runners {

struct worker_view {
  int pid = 0;
  std::string plugin;
  std::uint64_t version = 0;  // of the plugin's file (a replaced one's workers finish their requests)
  std::string state;          // idle, busy, "busy, leaving" (recycled when free), condemned
  std::size_t served = 0;     // requests it ran to their end
  std::uint64_t rss_bytes = 0;
  std::chrono::system_clock::time_point started;
};

}  // namespace fcgihost::runners
