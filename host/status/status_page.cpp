#include "status_page.hpp"

#include <fmt/format.h>

#include <host/status/host_state.hpp>
#include <host/common/json_text.hpp>
#include <host/common/utc_time.hpp>
#include <host/status/metrics.hpp>

namespace fcgihost::host {

namespace {

enum class format { text, json, openmetrics };

// Each word of the query ("json&full"), without its "=..." ("?openmetrics="
// as Prometheus's params send it).
template <typename Visit>
void for_each_word(std::string_view query, Visit visit) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto word = query.substr(0, amp);
    visit(word.substr(0, word.find('=')));
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
  }
}

format format_asked(std::string_view query) {
  format chosen = format::text;
  for_each_word(query, [&](std::string_view word) {
    if (word == "json") chosen = format::json;
    if (word == "openmetrics" || word == "prometheus") chosen = format::openmetrics;
  });
  return chosen;
}

double unix_seconds(std::chrono::system_clock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

// Everything the page shows, read once.
struct figures {
  std::chrono::system_clock::time_point started_at;
  double start_time = 0;  // Unix seconds
  double uptime = 0;
  std::uint64_t accepted = 0, open = 0, refused = 0, evicted = 0;
  std::uint64_t in_flight = 0, most_in_flight = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  std::uint64_t slow = 0;
  bool draining = false;
  std::vector<route_metrics::snapshot> routes;
  std::array<std::uint64_t, request_outcome_count> outcomes{};  // over all routes
  bool has_workers = false;  // plugins run in worker processes
  runners::worker_census workers;
  std::uint64_t condemned = 0, spawned = 0, crashed = 0;
  std::vector<std::pair<std::string_view, std::uint64_t>> workers_left;  // by reason
  bool has_scripts = false;
  std::uint64_t scripts_started = 0, scripts_stopped_by_term = 0, scripts_killed = 0, scripts_signalled = 0;
  std::vector<std::pair<int, std::uint64_t>> script_exits;  // exit status, count (those seen, and 0)
  bool has_plugins = false;
  std::uint64_t plugin_loads = 0, plugin_reloads = 0, plugin_load_failures = 0;
  const full_status* full = nullptr;  // asked for with `full`
};

void add_plugin_counts(figures& now, const runners::plugin_counters& counts) {
  constexpr auto relaxed = std::memory_order_relaxed;
  now.has_plugins = true;
  now.plugin_loads += counts.loads.load(relaxed);
  now.plugin_reloads += counts.reloads.load(relaxed);
  now.plugin_load_failures += counts.load_failures.load(relaxed);
}

figures read_figures(const host_state& host) {
  const auto& metrics = host.metrics;
  constexpr auto relaxed = std::memory_order_relaxed;
  figures now;
  now.started_at = metrics.started_at;
  now.start_time = unix_seconds(metrics.started_at);
  now.uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - metrics.started).count();
  now.accepted = metrics.connections_accepted.load(relaxed);
  now.open = host.open_connections.load(relaxed);
  now.refused = metrics.connections_refused.load(relaxed);
  now.evicted = metrics.connections_evicted.load(relaxed);
  now.in_flight = host.active_requests.load(relaxed);
  now.most_in_flight = std::max<std::uint64_t>(metrics.most_in_flight.load(relaxed), now.in_flight);
  now.slow = metrics.slow_requests.load(relaxed);
  now.draining = host.draining.load(relaxed);
  now.routes = metrics.read_routes();
  for (const auto& route : now.routes) {
    for (std::size_t i = 0; i < request_outcome_count; ++i) now.outcomes[i] += route.outcomes[i];
    now.bytes_in += route.bytes_in;
    now.bytes_out += route.bytes_out;
  }
  if (host.scripts) {
    const auto& counts = host.scripts->counts();
    now.has_scripts = true;
    now.scripts_started = counts.started.load(relaxed);
    now.scripts_stopped_by_term = counts.stopped_by_term.load(relaxed);
    now.scripts_killed = counts.killed.load(relaxed);
    now.scripts_signalled = counts.died_of_signal.load(relaxed);
    for (std::size_t code = 0; code < counts.exit_codes.size(); ++code)
      if (const auto n = counts.exit_codes[code].load(relaxed); n > 0 || code == 0)
        now.script_exits.emplace_back(static_cast<int>(code), n);
  }
  if (host.in_process_plugins) add_plugin_counts(now, *host.in_process_plugins);
  if (host.workers) {
    add_plugin_counts(now, host.workers->plugin_counts());
    now.plugin_load_failures += host.workers->counts().plugin_load_failures.load(relaxed);
    now.has_workers = true;
    now.workers = host.workers->census();
    now.condemned = host.workers->condemned();
    const auto& counts = host.workers->counts();
    now.spawned = counts.spawned.load(relaxed);
    now.crashed = counts.crashed.load(relaxed);
    now.workers_left = {{"max_requests", counts.recycled_max_requests.load(relaxed)},
                        {"max_memory", counts.recycled_max_memory.load(relaxed)},
                        {"request_stopped", counts.left_after_stopped_request.load(relaxed)},
                        {"plugin_replaced", counts.left_plugin_replaced.load(relaxed)},
                        {"idle", counts.left_idle.load(relaxed)}};
  }
  return now;
}

request_outcome outcome_at(std::size_t i) { return static_cast<request_outcome>(i); }

// A URI from a client on one line of the text page: control bytes escaped.
std::string printable(std::string_view text) {
  std::string shown;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      shown += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else
      shown += c;
  }
  return shown;
}

std::string as_text(const figures& now) {
  std::string page;
  auto line = [&](std::string_view name, auto value) { page += fmt::format("{:<32}{}\n", std::string(name) + ":", value); };
  line("start time", utc_text(now.started_at));
  line("uptime", fmt::format("{:.0f} s", now.uptime));
  line("state", now.draining ? "draining" : "serving");
  line("connections accepted", now.accepted);
  line("connections open", now.open);
  line("connections refused", now.refused);
  line("connections evicted", now.evicted);
  line("requests in flight", now.in_flight);
  line("most in flight", now.most_in_flight);
  for (std::size_t i = 0; i < request_outcome_count; ++i)
    line("requests " + std::string(to_string(outcome_at(i))), now.outcomes[i]);
  line("slow requests", now.slow);
  line("bytes in", now.bytes_in);
  line("bytes out", now.bytes_out);
  if (now.has_workers) {
    line("workers starting", now.workers.starting);
    line("workers idle", now.workers.idle);
    line("workers busy", now.workers.busy);
    line("workers condemned", now.condemned);
    line("requests queued", now.workers.queued);
    line("workers spawned", now.spawned);
    line("workers crashed", now.crashed);
    for (const auto& [reason, count] : now.workers_left) line("workers left, " + std::string(reason), count);
  }
  if (now.has_scripts) {
    line("scripts started", now.scripts_started);
    line("scripts stopped by TERM", now.scripts_stopped_by_term);
    line("scripts killed by KILL", now.scripts_killed);
    line("scripts died of a signal", now.scripts_signalled);
    for (const auto& [code, count] : now.script_exits) line("scripts exited " + std::to_string(code), count);
  }
  if (now.has_plugins) {
    line("plugin loads", now.plugin_loads);
    line("plugin reloads", now.plugin_reloads);
    line("plugin load failures", now.plugin_load_failures);
  }
  page += "\nroute                    requests  mean s     outcomes\n";
  for (const auto& route : now.routes) {
    const auto requests = route.requests();
    std::string outcomes;
    for (std::size_t i = 0; i < request_outcome_count; ++i)
      if (route.outcomes[i] > 0) outcomes += fmt::format("{}{}={}", outcomes.empty() ? "" : " ", to_string(outcome_at(i)), route.outcomes[i]);
    page += fmt::format("{:<24} {:>9}  {:<9.4f}  {}\n", route.name, requests,
                        requests > 0 ? route.seconds_sum / static_cast<double>(requests) : 0.0, outcomes);
  }
  if (now.full) {
    page += "\nrequests in flight\nid     elapsed s  state           pid      route                runner    method  "
            "peer                 uri\n";
    for (const auto& request : now.full->requests)
      page += fmt::format("{:<6} {:<10.3f} {:<15} {:<8} {:<20} {:<9} {:<7} {:<20} {}\n", request.id,
                          request.elapsed_seconds, request.state, request.pid, request.route, request.runner,
                          request.method, request.peer, printable(request.uri));
    if (now.full->requests_not_listed > 0)
      page += fmt::format("(and {} more, not listed)\n", now.full->requests_not_listed);
    page += "\nworkers\npid      state          served     rss KiB    started               plugin\n";
    for (const auto& worker : now.full->workers)
      page += fmt::format("{:<8} {:<14} {:<10} {:<10} {:<21} {} (version {})\n", worker.pid, worker.state,
                          worker.served, worker.rss_bytes / 1024, utc_text(worker.started),
                          worker.plugin, worker.version);
  }
  return page;
}

std::string as_json(const figures& now) {
  std::string outcomes;
  for (std::size_t i = 0; i < request_outcome_count; ++i)
    outcomes += fmt::format("{}\"{}\":{}", i ? "," : "", to_string(outcome_at(i)), now.outcomes[i]);
  std::string routes;
  for (const auto& route : now.routes) {
    std::string route_outcomes, buckets;
    for (std::size_t i = 0; i < request_outcome_count; ++i)
      route_outcomes += fmt::format("{}\"{}\":{}", i ? "," : "", to_string(outcome_at(i)), route.outcomes[i]);
    for (std::size_t i = 0; i < route.buckets.size(); ++i)
      buckets += fmt::format("{}{{\"le\":{},\"count\":{}}}", i ? "," : "",
                             i < latency_bounds.size() ? fmt::format("{}", latency_bounds[i]) : "\"+Inf\"",
                             route.buckets[i]);
    routes += fmt::format("{}{{\"route\":{},\"requests\":{},\"outcomes\":{{{}}},\"seconds_sum\":{},\"buckets\":[{}]}}",
                          routes.empty() ? "" : ",", json_quoted(route.name), route.requests(), route_outcomes,
                          route.seconds_sum, buckets);
  }
  std::string workers = "null";
  if (now.has_workers) {
    std::string left;
    for (const auto& [reason, count] : now.workers_left)
      left += fmt::format("{}\"{}\":{}", left.empty() ? "" : ",", reason, count);
    workers = fmt::format("{{\"starting\":{},\"idle\":{},\"busy\":{},\"condemned\":{},\"queued\":{},\"spawned\":{},"
                          "\"crashed\":{},\"left\":{{{}}}}}",
                          now.workers.starting, now.workers.idle, now.workers.busy, now.condemned, now.workers.queued,
                          now.spawned, now.crashed, left);
  }
  std::string scripts = "null";
  if (now.has_scripts) {
    std::string exits;
    for (const auto& [code, count] : now.script_exits)
      exits += fmt::format("{}\"{}\":{}", exits.empty() ? "" : ",", code, count);
    scripts = fmt::format("{{\"started\":{},\"stopped_by_term\":{},\"killed\":{},\"died_of_signal\":{},\"exits\":{{{}}}}}",
                          now.scripts_started, now.scripts_stopped_by_term, now.scripts_killed, now.scripts_signalled,
                          exits);
  }
  std::string plugins = "null";
  if (now.has_plugins)
    plugins = fmt::format("{{\"loads\":{},\"reloads\":{},\"load_failures\":{}}}", now.plugin_loads,
                          now.plugin_reloads, now.plugin_load_failures);
  std::string full;
  if (now.full) {
    std::string requests, workers_now;
    for (const auto& request : now.full->requests)
      requests += fmt::format("{}{{\"id\":{},\"peer\":{},\"method\":{},\"uri\":{},\"route\":{},\"runner\":{},"
                              "\"target\":{},\"pid\":{},\"state\":\"{}\",\"elapsed_seconds\":{:.6f}}}",
                              requests.empty() ? "" : ",", request.id, json_quoted(request.peer),
                              json_quoted(request.method), json_quoted(request.uri), json_quoted(request.route),
                              json_quoted(request.runner), json_quoted(request.target), request.pid, request.state,
                              request.elapsed_seconds);
    for (const auto& worker : now.full->workers)
      workers_now += fmt::format("{}{{\"pid\":{},\"plugin\":{},\"version\":{},\"state\":\"{}\",\"served\":{},"
                                 "\"rss_bytes\":{},\"start_time\":{:.3f}}}",
                                 workers_now.empty() ? "" : ",", worker.pid, json_quoted(worker.plugin),
                                 worker.version, worker.state, worker.served, worker.rss_bytes,
                                 unix_seconds(worker.started));
    full = fmt::format(",\"requests_in_flight\":[{}],\"requests_not_listed\":{},\"worker_processes\":[{}]",
                       requests, now.full->requests_not_listed, workers_now);
  }
  return fmt::format(
      "{{\"start_time\":{:.3f},\"start_time_utc\":\"{}\",\"uptime_seconds\":{:.3f},\"state\":\"{}\","
      "\"connections\":{{\"accepted\":{},\"open\":{},\"refused\":{},\"evicted\":{}}},"
      "\"requests\":{{\"in_flight\":{},\"most_in_flight\":{},\"slow\":{},\"outcomes\":{{{}}}}},"
      "\"bytes\":{{\"in\":{},\"out\":{}}},\"workers\":{},\"scripts\":{},\"plugins\":{},\"routes\":[{}]{}}}\n",
      now.start_time, utc_text(now.started_at), now.uptime, now.draining ? "draining" : "serving", now.accepted,
      now.open, now.refused, now.evicted, now.in_flight, now.most_in_flight, now.slow, outcomes, now.bytes_in, now.bytes_out,
      workers, scripts, plugins, routes, full);
}

// A label value in the exposition format: backslash, quote and line feed escaped.
std::string label(std::string_view value) {
  std::string escaped;
  for (const char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

std::string as_openmetrics(const figures& now) {
  std::string page;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    page += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto single = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    family(name, type, help);
    page += fmt::format("{} {}\n", name, value);
  };
  single("fcgihost_start_time_seconds", "gauge", "When the host started, in Unix seconds.",
         fmt::format("{:.3f}", now.start_time));
  single("fcgihost_up_seconds", "gauge", "How long the host has run.", fmt::format("{:.3f}", now.uptime));
  single("fcgihost_draining", "gauge", "1 while the host drains (after SIGTERM).", now.draining ? 1 : 0);
  single("fcgihost_connections_accepted_total", "counter", "Connections accepted.", now.accepted);
  single("fcgihost_connections_open", "gauge", "Connections open now.", now.open);
  single("fcgihost_connections_refused_total", "counter",
         "Connections refused (FCGI_WEB_SERVER_ADDRS, max-connections).", now.refused);
  single("fcgihost_connections_evicted_total", "counter",
         "Silent connections closed to make room for new ones (max-connections).", now.evicted);
  single("fcgihost_requests_in_flight", "gauge", "Requests running now.", now.in_flight);
  single("fcgihost_requests_in_flight_max", "gauge", "The most requests that ran at once.", now.most_in_flight);
  single("fcgihost_slow_requests_total", "counter", "Requests still running at --slow-threshold.", now.slow);
  single("fcgihost_received_bytes_total", "counter", "Request body bytes received (FCGI_STDIN).", now.bytes_in);
  single("fcgihost_sent_bytes_total", "counter", "Response bytes sent (FCGI_STDOUT).", now.bytes_out);
  if (now.has_workers) {
    family("fcgihost_workers", "gauge", "Worker processes now, by state.");
    for (const auto& [state, count] : {std::pair<std::string_view, std::uint64_t>{"starting", now.workers.starting},
                                       {"idle", now.workers.idle},
                                       {"busy", now.workers.busy},
                                       {"condemned", now.condemned}})
      page += fmt::format("fcgihost_workers{{state=\"{}\"}} {}\n", state, count);
    single("fcgihost_requests_queued", "gauge", "Requests waiting for a worker now.", now.workers.queued);
    single("fcgihost_workers_spawned_total", "counter", "Worker processes started.", now.spawned);
    single("fcgihost_workers_crashed_total", "counter", "Workers that died of a signal the host did not send.",
           now.crashed);
    family("fcgihost_workers_left_total", "counter", "Workers that left their pool, by reason.");
    for (const auto& [reason, count] : now.workers_left)
      page += fmt::format("fcgihost_workers_left_total{{reason=\"{}\"}} {}\n", reason, count);
  }
  if (now.has_scripts) {
    single("fcgihost_scripts_started_total", "counter", "Scripts started.", now.scripts_started);
    family("fcgihost_scripts_stopped_total", "counter",
           "Scripts stopped because their request was over, by the signal that ended their process group.");
    page += fmt::format("fcgihost_scripts_stopped_total{{signal=\"TERM\"}} {}\n", now.scripts_stopped_by_term);
    page += fmt::format("fcgihost_scripts_stopped_total{{signal=\"KILL\"}} {}\n", now.scripts_killed);
    family("fcgihost_scripts_exits_total", "counter", "Scripts that ran to their end, by exit status.");
    for (const auto& [code, count] : now.script_exits)
      page += fmt::format("fcgihost_scripts_exits_total{{code=\"{}\"}} {}\n", code, count);
    single("fcgihost_scripts_signalled_total", "counter",
           "Scripts that ran to their end killed by a signal the host did not send.", now.scripts_signalled);
  }
  if (now.has_plugins) {
    single("fcgihost_plugin_loads_total", "counter", "Plugins loaded (a first version).", now.plugin_loads);
    single("fcgihost_plugin_reloads_total", "counter", "Newer versions of plugin files loaded in place of older ones.",
           now.plugin_reloads);
    single("fcgihost_plugin_load_failures_total", "counter", "Plugin files that could not be loaded.",
           now.plugin_load_failures);
  }
  family("fcgihost_requests_total", "counter", "Requests ended, by route and outcome.");
  for (const auto& route : now.routes)
    for (std::size_t i = 0; i < request_outcome_count; ++i)
      page += fmt::format("fcgihost_requests_total{{route=\"{}\",outcome=\"{}\"}} {}\n", label(route.name),
                          to_string(outcome_at(i)), route.outcomes[i]);
  family("fcgihost_request_duration_seconds", "histogram",
         "Time from BEGIN_REQUEST to the request's end, by route.");
  for (const auto& route : now.routes) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < route.buckets.size(); ++i) {
      cumulative += route.buckets[i];
      page += fmt::format("fcgihost_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", label(route.name),
                          i < latency_bounds.size() ? fmt::format("{}", latency_bounds[i]) : "+Inf", cumulative);
    }
    page += fmt::format("fcgihost_request_duration_seconds_sum{{route=\"{}\"}} {}\n", label(route.name),
                        route.seconds_sum);
    page += fmt::format("fcgihost_request_duration_seconds_count{{route=\"{}\"}} {}\n", label(route.name), cumulative);
  }
  return page;
}

}  // namespace

bool status_wants_full(std::string_view query_string) {
  bool full = false;
  for_each_word(query_string, [&](std::string_view word) { full = full || word == "full"; });
  return full;
}

std::string status_response(const host_state& host, std::string_view query_string, const full_status* full) {
  figures now = read_figures(host);
  now.full = full;
  switch (format_asked(query_string)) {
    case format::json:
      return "Status: 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n" + as_json(now);
    case format::openmetrics:
      return "Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nCache-Control: "
             "no-store\r\n\r\n" +
             as_openmetrics(now);
    case format::text: break;
  }
  return "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n\r\n" +
         as_text(now);
}

}  // namespace fcgihost::host
