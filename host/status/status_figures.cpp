#include "status_figures.hpp"

#include <fmt/format.h>

#include <host/common/utc_time.hpp>
#include <host/status/host_state.hpp>

namespace fcgihost::host {

namespace {

constexpr auto relaxed = std::memory_order_relaxed;

class figure_list {
 public:
  explicit figure_list(std::vector<figure>& into) : figures_(into) {}

  // A count, the same number in every format.
  void count(std::string path, std::string text_name, std::string_view family, std::string_view type,
             std::string_view help, std::uint64_t value, std::string labels = {}) {
    const auto shown = std::to_string(value);
    figures_.push_back({std::move(path), std::move(text_name), family, type, help, std::move(labels), shown, shown,
                        shown});
  }
  void counter(std::string path, std::string text_name, std::string_view family, std::string_view help,
               std::uint64_t value, std::string labels = {}) {
    count(std::move(path), std::move(text_name), family, "counter", help, value, std::move(labels));
  }
  void gauge(std::string path, std::string text_name, std::string_view family, std::string_view help,
             std::uint64_t value, std::string labels = {}) {
    count(std::move(path), std::move(text_name), family, "gauge", help, value, std::move(labels));
  }
  void add(figure each) { figures_.push_back(std::move(each)); }
  // A section the host does not have (no workers, say): null in the JSON.
  void absent(std::string path) { figures_.push_back({.path = std::move(path), .json = "null"}); }

 private:
  std::vector<figure>& figures_;
};

void host_figures(figure_list& list, const host_state& host) {
  const auto& metrics = host.metrics;
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - metrics.started).count();
  const double start_time = unix_seconds(metrics.started_at);
  const bool draining = host.draining.load(relaxed);
  list.add({.path = "start_time", .text_name = "start time", .family = "fcgihost_start_time_seconds",
            .type = "gauge", .help = "When the host started, in Unix seconds.",
            .json = fmt::format("{:.3f}", start_time), .text = utc_text(metrics.started_at),
            .sample = fmt::format("{:.3f}", start_time)});
  list.add({.path = "start_time_utc", .json = fmt::format("\"{}\"", utc_text(metrics.started_at))});
  list.add({.path = "uptime_seconds", .text_name = "uptime", .family = "fcgihost_up_seconds", .type = "gauge",
            .help = "How long the host has run.", .json = fmt::format("{:.3f}", uptime),
            .text = fmt::format("{:.0f} s", uptime), .sample = fmt::format("{:.3f}", uptime)});
  list.add({.path = "state", .text_name = "state", .family = "fcgihost_draining", .type = "gauge",
            .help = "1 while the host drains (after SIGTERM).",
            .json = draining ? "\"draining\"" : "\"serving\"", .text = draining ? "draining" : "serving",
            .sample = draining ? "1" : "0"});
}

void control_figures(figure_list& list, const host_state& host) {
  const auto& metrics = host.metrics;
  list.counter("reloads.done", "reloads", "fcgihost_reloads_total", "SIGHUP: configurations reloaded.",
               metrics.reloads.load(relaxed));
  list.counter("reloads.failed", "reloads failed", "fcgihost_reload_failures_total",
               "SIGHUP: configurations that could not be read (the old one kept).",
               metrics.reload_failures.load(relaxed));
}

void connection_figures(figure_list& list, const host_state& host) {
  const auto& metrics = host.metrics;
  list.counter("connections.accepted", "connections accepted", "fcgihost_connections_accepted_total",
               "Connections accepted.", metrics.connections_accepted.load(relaxed));
  list.gauge("connections.open", "connections open", "fcgihost_connections_open", "Connections open now.",
             host.open_connections.load(relaxed));
  list.counter("connections.refused", "connections refused", "fcgihost_connections_refused_total",
               "Connections refused (FCGI_WEB_SERVER_ADDRS, max-connections).",
               metrics.connections_refused.load(relaxed));
  list.counter("connections.evicted", "connections evicted", "fcgihost_connections_evicted_total",
               "Silent connections closed to make room for new ones (max-connections).",
               metrics.connections_evicted.load(relaxed));
  for (const auto reason : all_close_reasons) {
    const auto name = std::string(to_string(reason));
    list.counter("connections.closed." + name, "connections closed, " + name, "fcgihost_connections_closed_total",
                 "Connections closed, by why.",
                 metrics.connections_closed[static_cast<std::size_t>(reason)].load(relaxed),
                 fmt::format("reason=\"{}\"", name));
  }
}

void request_figures(figure_list& list, const host_state& host, const std::vector<route_metrics::snapshot>& routes) {
  const auto& metrics = host.metrics;
  const auto in_flight = host.active_requests.load(relaxed);
  list.gauge("requests.in_flight", "requests in flight", "fcgihost_requests_in_flight", "Requests running now.",
             in_flight);
  list.gauge("requests.most_in_flight", "most in flight", "fcgihost_requests_in_flight_max",
             "The most requests that ran at once.",
             std::max<std::uint64_t>(metrics.most_in_flight.load(relaxed), in_flight));
  list.counter("requests.slow", "slow requests", "fcgihost_slow_requests_total",
               "Requests still running at --slow-threshold.", metrics.slow_requests.load(relaxed));
  // Over all routes; each route's own are in the routes list.
  for (const auto outcome : all_request_outcomes) {
    std::uint64_t total = 0;
    for (const auto& route : routes) total += route.outcomes[static_cast<std::size_t>(outcome)];
    const auto name = std::string(to_string(outcome));
    list.counter("requests.outcomes." + name, "requests " + name, {}, {}, total);
  }
  for (std::size_t i = 0; i < status_classes.size(); ++i) {
    std::uint64_t total = 0;
    for (const auto& route : routes) total += route.statuses[i];
    const auto name = std::string(status_classes[i]);
    list.counter("requests.statuses." + name, "responses " + name, {}, {}, total);
  }
  std::uint64_t in = 0, out = 0;
  for (const auto& route : routes) {
    in += route.bytes_in;
    out += route.bytes_out;
  }
  list.counter("bytes.in", "bytes in", "fcgihost_received_bytes_total", "Request body bytes received (FCGI_STDIN).",
               in);
  list.counter("bytes.out", "bytes out", "fcgihost_sent_bytes_total", "Response bytes sent (FCGI_STDOUT).", out);
}

void worker_figures(figure_list& list, runners::worker_runner& workers) {
  const auto census = workers.census();
  const auto& counts = workers.counts();
  constexpr std::string_view by_state = "fcgihost_workers";
  constexpr std::string_view by_state_help = "Worker processes now, by state.";
  for (const auto& [state, value] : {std::pair<std::string_view, std::uint64_t>{"starting", census.starting},
                                     {"idle", census.idle},
                                     {"busy", census.busy},
                                     {"condemned", workers.condemned()}})
    list.gauge("workers." + std::string(state), "workers " + std::string(state), by_state, by_state_help, value,
               fmt::format("state=\"{}\"", state));
  list.gauge("workers.queued", "requests queued", "fcgihost_requests_queued", "Requests waiting for a worker now.",
             census.queued);
  list.counter("workers.spawned", "workers spawned", "fcgihost_workers_spawned_total", "Worker processes started.",
               counts.spawned.load(relaxed));
  list.counter("workers.crashed", "workers crashed", "fcgihost_workers_crashed_total",
               "Workers that died of a signal the host did not send.", counts.crashed.load(relaxed));
  for (const auto& [reason, value] :
       {std::pair<std::string_view, std::uint64_t>{"max_requests", counts.recycled_max_requests.load(relaxed)},
        {"max_memory", counts.recycled_max_memory.load(relaxed)},
        {"request_stopped", counts.left_after_stopped_request.load(relaxed)},
        {"plugin_replaced", counts.left_plugin_replaced.load(relaxed)},
        {"idle", counts.left_idle.load(relaxed)},
        {"killed_after_stop", counts.killed_after_stop.load(relaxed)}})
    list.counter("workers.left." + std::string(reason), "workers left, " + std::string(reason),
                 "fcgihost_workers_left_total", "Workers that left their pool, by reason.", value,
                 fmt::format("reason=\"{}\"", reason));
}

void script_figures(figure_list& list, const runners::script_runner& scripts) {
  const auto& counts = scripts.counts();
  list.counter("scripts.started", "scripts started", "fcgihost_scripts_started_total", "Scripts started.",
               counts.started.load(relaxed));
  constexpr std::string_view stopped = "fcgihost_scripts_stopped_total";
  constexpr std::string_view stopped_help =
      "Scripts stopped because their request was over, by the signal that ended their process group.";
  list.counter("scripts.stopped_by_term", "scripts stopped by TERM", stopped, stopped_help,
               counts.stopped_by_term.load(relaxed), "signal=\"TERM\"");
  list.counter("scripts.killed", "scripts killed by KILL", stopped, stopped_help, counts.killed.load(relaxed),
               "signal=\"KILL\"");
  list.counter("scripts.died_of_signal", "scripts died of a signal", "fcgihost_scripts_signalled_total",
               "Scripts that ran to their end killed by a signal the host did not send.",
               counts.died_of_signal.load(relaxed));
  // Those exit statuses seen, and 0 always.
  for (std::size_t code = 0; code < counts.exit_codes.size(); ++code)
    if (const auto n = counts.exit_codes[code].load(relaxed); n > 0 || code == 0)
      list.counter(fmt::format("scripts.exits.{}", code), fmt::format("scripts exited {}", code),
                   "fcgihost_scripts_exits_total", "Scripts that ran to their end, by exit status.", n,
                   fmt::format("code=\"{}\"", code));
}

void handler_figures(figure_list& list, const host_state& host) {
  const auto& metrics = host.metrics;
  list.counter("handlers.off_fast_path", "handlers off the fast path", "fcgihost_handlers_off_fast_path_total",
               "In-process handlers moved to the handler pool for holding an I/O thread.",
               metrics.handlers_off_fast_path.load(relaxed));
  list.counter("handlers.returned_late", "handlers returned late", "fcgihost_handlers_returned_late_total",
               "In-process handlers that returned long after their request was stopped (they ignore their stop "
               "token).",
               metrics.handlers_returned_late.load(relaxed));
}

void plugin_figures(figure_list& list, const host_state& host) {
  std::uint64_t loads = 0, reloads = 0, failures = 0;
  for (const auto* counts :
       {host.in_process_plugins, host.workers ? &host.workers->plugin_counts() : nullptr}) {
    if (!counts) continue;
    loads += counts->loads.load(relaxed);
    reloads += counts->reloads.load(relaxed);
    failures += counts->load_failures.load(relaxed);
  }
  if (host.workers) failures += host.workers->counts().plugin_load_failures.load(relaxed);
  list.counter("plugins.loads", "plugin loads", "fcgihost_plugin_loads_total", "Plugins loaded (a first version).",
               loads);
  list.counter("plugins.reloads", "plugin reloads", "fcgihost_plugin_reloads_total",
               "Newer versions of plugin files loaded in place of older ones.", reloads);
  list.counter("plugins.load_failures", "plugin load failures", "fcgihost_plugin_load_failures_total",
               "Plugin files that could not be loaded.", failures);
}

}  // namespace

status_figures read_status_figures(const host_state& host) {
  status_figures now;
  now.routes = host.metrics.read_routes();
  figure_list list(now.figures);
  host_figures(list, host);
  control_figures(list, host);
  connection_figures(list, host);
  request_figures(list, host, now.routes);
  if (host.workers)
    worker_figures(list, *host.workers);
  else
    list.absent("workers");
  if (host.scripts)
    script_figures(list, *host.scripts);
  else
    list.absent("scripts");
  if (host.in_process_plugins)
    handler_figures(list, host);
  else
    list.absent("handlers");
  if (host.workers || host.in_process_plugins)
    plugin_figures(list, host);
  else
    list.absent("plugins");
  return now;
}

}  // namespace fcgihost::host
