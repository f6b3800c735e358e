// Command line of fcgi-bench.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fcgihost/protocol/name_value.hpp>
#include <fcgihost/protocol/socket_address.hpp>

namespace fcgihost::bench {

// How the load is made: see --engine in bench_usage.
enum class load_engine { automatic, blocking, events };

struct bench_options {
  protocol::socket_address address;
  std::string address_text;
  std::size_t connections = 1;
  std::size_t depth = 1;    // requests in flight per connection
  std::size_t threads = 1;  // event loops, each with its own share of the connections
  load_engine engine = load_engine::automatic;
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

// A thread each is too many beyond this.
constexpr std::size_t max_blocking_connections = 1000;

// Throws std::invalid_argument with a message fit for the user.
bench_options parse_bench_options(const std::vector<std::string>& arguments);

extern const char* const bench_usage;

// The records that open request `request_id` as the options describe it:
// BEGIN_REQUEST, PARAMS and, for a request without a body, the end of
// FCGI_STDIN.
std::string encode_request_head(const bench_options& options, std::uint16_t request_id);

}  // namespace fcgihost::bench
