#include "bench_results.hpp"

#include <cstdio>
#include <sstream>

#include <fcgihost/protocol/record.hpp>

namespace fcgihost::bench {

bool bench_results::count_answer(std::chrono::microseconds elapsed, std::uint8_t protocol_status, int http_status) {
  latency.record(static_cast<std::uint64_t>(elapsed.count()));
  ++completed;
  if (protocol_status != static_cast<std::uint8_t>(protocol::protocol_status::request_complete)) {
    ++protocol_statuses[std::string(protocol::status_name(protocol_status))];
    return false;
  }
  if (http_status < 200 || http_status >= 300) {
    ++http_statuses[http_status];
    return false;
  }
  ++succeeded;
  return true;
}

void bench_results::merge(const bench_results& other) {
  completed += other.completed;
  succeeded += other.succeeded;
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  connect_errors += other.connect_errors;
  resets += other.resets;
  protocol_errors += other.protocol_errors;
  timeouts += other.timeouts;
  for (const auto& [name, count] : other.protocol_statuses) protocol_statuses[name] += count;
  for (const auto& [status, count] : other.http_statuses) http_statuses[status] += count;
  latency.merge(other.latency);
}

std::uint64_t bench_results::failed() const {
  return (completed - succeeded) + connect_errors + resets + protocol_errors + timeouts;
}

namespace {

std::string duration_text(std::uint64_t microseconds) {
  char text[32];
  if (microseconds < 1000)
    std::snprintf(text, sizeof text, "%lluus", static_cast<unsigned long long>(microseconds));
  else if (microseconds < 1'000'000)
    std::snprintf(text, sizeof text, "%.2fms", static_cast<double>(microseconds) / 1e3);
  else
    std::snprintf(text, sizeof text, "%.2fs", static_cast<double>(microseconds) / 1e6);
  return text;
}

std::string bytes_text(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.2f %s", bytes, units[unit]);
  return text;
}

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c);
      quoted += escape;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

struct percentile_row {
  const char* name;
  double fraction;
};
constexpr percentile_row percentiles[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}};

}  // namespace

void print_text(std::ostream& out, const run_summary& run, const bench_results& results) {
  const double seconds = run.elapsed.count();
  out << "fcgi-bench " << run.address << ": " << run.connections << " connection(s), depth " << run.depth_used
      << (run.keep_conn ? ", keep-conn" : ", a connection per request")
      << (run.engine == "blocking" ? ", blocking clients" : ", " + std::to_string(run.event_loops) + " event loop(s)")
      << (run.body_size ? ", body " + bytes_text(static_cast<double>(run.body_size)) : std::string())
      << (run.idle_connections ? ", " + std::to_string(run.idle_connections) + " idle connection(s) held" : std::string())
      << "\n";
  for (const auto& note : run.notes) out << "  note: " << note << "\n";
  char line[160];
  std::snprintf(line, sizeof line, "  requests   %llu in %.2f s, %.1f/s\n",
                static_cast<unsigned long long>(results.completed), seconds,
                seconds > 0 ? static_cast<double>(results.completed) / seconds : 0.0);
  out << line;
  out << "  latency   ";
  for (const auto& row : percentiles) out << " " << row.name << " " << duration_text(results.latency.percentile(row.fraction));
  out << " max " << duration_text(results.latency.max()) << "\n";
  out << "  bytes      in " << bytes_text(static_cast<double>(results.bytes_in)) << ", out "
      << bytes_text(static_cast<double>(results.bytes_out)) << "\n";
  std::ostringstream errors;
  auto add = [&](const std::string& what, std::uint64_t count) {
    if (count) errors << (errors.tellp() > 0 ? ", " : "") << what << " " << count;
  };
  add("connect", results.connect_errors);
  add("reset", results.resets);
  add("protocol", results.protocol_errors);
  add("timeout", results.timeouts);
  for (const auto& [name, count] : results.protocol_statuses) add(name, count);
  for (const auto& [status, count] : results.http_statuses) add("status " + std::to_string(status), count);
  out << "  errors     " << (errors.tellp() > 0 ? errors.str() : "none") << "\n";
}

void print_json(std::ostream& out, const run_summary& run, const bench_results& results) {
  const double seconds = run.elapsed.count();
  out << "{\"address\":" << json_string(run.address) << ",\"connections\":" << run.connections
      << ",\"depth_asked\":" << run.depth_asked << ",\"depth\":" << run.depth_used
      << ",\"multiplexed\":" << (run.depth_used > 1 ? "true" : "false")
      << ",\"keep_conn\":" << (run.keep_conn ? "true" : "false") << ",\"body_size\":" << run.body_size
      << ",\"engine\":" << json_string(run.engine)
      << ",\"idle_connections\":" << run.idle_connections
      << ",\"seconds\":" << seconds << ",\"requests\":" << results.completed
      << ",\"succeeded\":" << results.succeeded << ",\"failed\":" << results.failed()
      << ",\"requests_per_second\":" << (seconds > 0 ? static_cast<double>(results.completed) / seconds : 0.0)
      << ",\"latency_us\":{";
  for (const auto& row : percentiles) out << "\"" << row.name << "\":" << results.latency.percentile(row.fraction) << ",";
  out << "\"max\":" << results.latency.max() << ",\"mean\":" << results.latency.mean() << "}"
      << ",\"bytes_in\":" << results.bytes_in << ",\"bytes_out\":" << results.bytes_out << ",\"errors\":{"
      << "\"connect\":" << results.connect_errors << ",\"reset\":" << results.resets
      << ",\"protocol\":" << results.protocol_errors << ",\"timeout\":" << results.timeouts
      << ",\"protocol_status\":{";
  bool first = true;
  for (const auto& [name, count] : results.protocol_statuses) {
    out << (first ? "" : ",") << json_string(name) << ":" << count;
    first = false;
  }
  out << "},\"status\":{";
  first = true;
  for (const auto& [status, count] : results.http_statuses) {
    out << (first ? "" : ",") << "\"" << status << "\":" << count;
    first = false;
  }
  out << "}},\"notes\":[";
  first = true;
  for (const auto& note : run.notes) {
    out << (first ? "" : ",") << json_string(note);
    first = false;
  }
  out << "]}\n";
}

}  // namespace fcgihost::bench
