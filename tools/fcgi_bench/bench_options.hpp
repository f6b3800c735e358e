// Command line of fcgi-bench.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <protocol/name_value.hpp>
#include <protocol/socket_address.hpp>

namespace fcgihost::bench {

struct bench_options {
  protocol::socket_address address;
  std::string address_text;
  std::size_t connections = 1;
  std::size_t depth = 1;    // requests in flight per connection
  std::size_t threads = 1;  // each with its own share of the connections
  std::optional<std::chrono::milliseconds> duration;  // --duration, or
  std::optional<std::uint64_t> requests;              // --requests (default: --duration 10)
  protocol::name_value_list params;                   // REQUEST_METHOD, SCRIPT_FILENAME... then --param
  std::uint64_t body_size = 0;                        // bytes of FCGI_STDIN per request
  bool keep_conn = false;
  std::chrono::milliseconds timeout{30'000};          // per request; 0: none
  std::size_t idle_connections = 0;  // opened first and held, silent, for the whole run
  bool json = false;
  bool progress = true;
  bool help = false;
};

// Throws std::invalid_argument with a message fit for the user.
bench_options parse_bench_options(const std::vector<std::string>& arguments);

extern const char* const bench_usage;

}  // namespace fcgihost::bench
