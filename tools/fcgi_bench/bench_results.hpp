// What a run of fcgi-bench counted, per event loop and merged, and how it is
// shown: a wrk-like text summary or one JSON object.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "latency_histogram.hpp"

namespace fcgihost::bench {

struct bench_results {
  std::uint64_t completed = 0;   // requests that reached END_REQUEST
  std::uint64_t succeeded = 0;   // ... with REQUEST_COMPLETE and a 2xx Status:
  std::uint64_t bytes_in = 0;    // FCGI_STDOUT and FCGI_STDERR content
  std::uint64_t bytes_out = 0;   // everything written, record headers included
  std::uint64_t connect_errors = 0;
  std::uint64_t resets = 0;      // requests in flight when the server closed or failed the connection
  std::uint64_t protocol_errors = 0;
  std::uint64_t timeouts = 0;
  std::map<std::string, std::uint64_t> protocol_statuses;  // by name: OVERLOADED, ...
  std::map<int, std::uint64_t> http_statuses;              // Status: codes that are not 2xx
  latency_histogram latency;     // completed requests, microseconds

  // A request that reached END_REQUEST after `elapsed`: counted as a
  // success, or by its protocol status or its non-2xx Status:. False when
  // it failed.
  bool count_answer(std::chrono::microseconds elapsed, std::uint8_t protocol_status, int http_status);
  void merge(const bench_results& other);
  std::uint64_t failed() const;
};

struct run_summary {
  std::string address;
  std::size_t connections = 0;
  std::size_t depth_asked = 1;
  std::size_t depth_used = 1;   // 1 when the server does not multiplex
  bool keep_conn = false;
  std::uint64_t body_size = 0;
  std::string engine;  // "blocking" or "events"
  std::size_t event_loops = 0;  // with "events"
  std::chrono::duration<double> elapsed{};
  std::size_t idle_connections = 0;  // held open through the run
  std::vector<std::string> notes;  // e.g. why multiplexing was not used
};

void print_text(std::ostream& out, const run_summary& run, const bench_results& results);
void print_json(std::ostream& out, const run_summary& run, const bench_results& results);

}  // namespace fcgihost::bench
