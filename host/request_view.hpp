// One request in flight as the status page's full view shows it, read on
// its connection's strand (see connection::requests_now).
#pragma once

#include <cstdint>
#include <string>

namespace fcgihost::host {

struct request_view {
  std::uint16_t id = 0;  // the FastCGI request id, unique on its connection
  std::string peer;
  std::string method = "-";
  std::string uri = "-";
  std::string route = "-";   // where its figures go (see metrics.hpp); "-" before its target is known
  std::string runner = "-";  // function, script, host
  std::string target = "-";  // the plugin handler or script asked for
  int pid = 0;               // its worker's or script's process, 0 when it runs in the host
  std::string state;         // reading params, running, settling, ending
  double elapsed_seconds = 0;
};

}  // namespace fcgihost::host
