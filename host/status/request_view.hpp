// One request in flight as the status page's full view shows it, read on
// its connection's strand (see connection::requests_now).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// A status page holds at most this many requests, and at most this many
// bytes of each text from outside (a URI, a method, a script name): 64 pages
// asked while hundreds of 400 KB URIs were in flight took 1.8 GiB.
inline constexpr std::size_t most_requests_on_a_page = 256;
inline constexpr std::size_t most_text_bytes_on_a_page = 512;

// `text` cut to most_text_bytes_on_a_page, "..." saying where.
inline std::string cut_for_page(std::string_view text) {
  if (text.size() <= most_text_bytes_on_a_page) return std::string(text);
  return std::string(text.substr(0, most_text_bytes_on_a_page)) + "...";
}

// What a connection tells the page: at most the views it was asked for, and
// how many requests it has in all.
struct requests_seen {
  std::vector<request_view> views;
  std::size_t in_all = 0;
};

}  // namespace fcgihost::host
