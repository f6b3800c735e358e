#include "status_page.hpp"

#include <fmt/format.h>

#include <host/common/json_text.hpp>
#include <host/common/utc_time.hpp>
#include <host/status/status_figures.hpp>

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

std::string bucket_bound(std::size_t i) {
  return i < latency_bounds.size() ? fmt::format("{}", latency_bounds[i]) : std::string("+Inf");
}

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

std::string as_text(const status_figures& now, const full_status* full) {
  std::string page;
  for (const auto& each : now.figures)
    if (!each.text_name.empty()) page += fmt::format("{:<32}{}\n", each.text_name + ":", each.text);
  page += "\nroute                    requests  mean s     outcomes\n";
  for (const auto& route : now.routes) {
    const auto requests = route.requests();
    std::string outcomes;
    for (const auto outcome : all_request_outcomes)
      if (const auto n = route.outcomes[static_cast<std::size_t>(outcome)]; n > 0)
        outcomes += fmt::format("{}{}={}", outcomes.empty() ? "" : " ", to_string(outcome), n);
    page += fmt::format("{:<24} {:>9}  {:<9.4f}  {}\n", route.name, requests,
                        requests > 0 ? route.seconds_sum / static_cast<double>(requests) : 0.0, outcomes);
  }
  if (full) {
    page += "\nrequests in flight\nid     elapsed s  state           pid      route                runner    method  "
            "peer                 uri\n";
    for (const auto& request : full->requests)
      page += fmt::format("{:<6} {:<10.3f} {:<15} {:<8} {:<20} {:<9} {:<7} {:<20} {}\n", request.id,
                          request.elapsed_seconds, request.state, request.pid, request.route, request.runner,
                          request.method, request.peer, printable(request.uri));
    if (full->requests_not_listed > 0)
      page += fmt::format("(and {} more, not listed)\n", full->requests_not_listed);
    page += "\nworkers\npid      state          served     rss KiB    started               plugin\n";
    for (const auto& worker : full->workers)
      page += fmt::format("{:<8} {:<14} {:<10} {:<10} {:<21} {} (version {})\n", worker.pid, worker.state,
                          worker.served, worker.rss_bytes / 1024, utc_text(worker.started),
                          worker.plugin, worker.version);
  }
  return page;
}

// The figures as nested objects, from their dotted paths (figures of one
// object follow each other); the top-level object is left open.
std::string figures_json(const std::vector<figure>& figures) {
  std::string out = "{";
  std::vector<std::string_view> open;  // the objects open now, outermost first
  std::vector<bool> filled{false};     // per level, top first: a member is written
  const auto member = [&](std::string_view key) {
    if (filled.back()) out += ',';
    filled.back() = true;
    out += json_quoted(key) + ":";
  };
  for (const auto& each : figures) {
    std::vector<std::string_view> parts;
    for (std::string_view rest = each.path;;) {
      const auto dot = rest.find('.');
      parts.push_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    std::size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) ++common;
    for (; open.size() > common; open.pop_back(), filled.pop_back()) out += '}';
    for (std::size_t i = common; i + 1 < parts.size(); ++i) {
      member(parts[i]);
      out += '{';
      open.push_back(parts[i]);
      filled.push_back(false);
    }
    member(parts.back());
    out += each.json;
  }
  for (; !open.empty(); open.pop_back()) out += '}';
  return out;
}

std::string as_json(const status_figures& now, const full_status* full) {
  std::string routes;
  for (const auto& route : now.routes) {
    std::string outcomes, statuses, buckets;
    for (const auto outcome : all_request_outcomes)
      outcomes += fmt::format("{}\"{}\":{}", outcomes.empty() ? "" : ",", to_string(outcome),
                              route.outcomes[static_cast<std::size_t>(outcome)]);
    for (std::size_t i = 0; i < status_classes.size(); ++i)
      statuses += fmt::format("{}\"{}\":{}", i ? "," : "", status_classes[i], route.statuses[i]);
    for (std::size_t i = 0; i < route.buckets.size(); ++i)
      buckets += fmt::format("{}{{\"le\":{},\"count\":{}}}", i ? "," : "",
                             i < latency_bounds.size() ? bucket_bound(i) : "\"+Inf\"", route.buckets[i]);
    routes += fmt::format("{}{{\"route\":{},\"requests\":{},\"outcomes\":{{{}}},\"statuses\":{{{}}},"
                          "\"seconds_sum\":{},\"buckets\":[{}]}}",
                          routes.empty() ? "" : ",", json_quoted(route.name), route.requests(), outcomes, statuses,
                          route.seconds_sum, buckets);
  }
  std::string page = figures_json(now.figures) + ",\"routes\":[" + routes + "]";
  if (full) {
    std::string requests, workers_now;
    for (const auto& request : full->requests)
      requests += fmt::format("{}{{\"id\":{},\"peer\":{},\"method\":{},\"uri\":{},\"route\":{},\"runner\":{},"
                              "\"target\":{},\"pid\":{},\"state\":\"{}\",\"elapsed_seconds\":{:.6f}}}",
                              requests.empty() ? "" : ",", request.id, json_quoted(request.peer),
                              json_quoted(request.method), json_quoted(request.uri), json_quoted(request.route),
                              json_quoted(request.runner), json_quoted(request.target), request.pid, request.state,
                              request.elapsed_seconds);
    for (const auto& worker : full->workers)
      workers_now += fmt::format("{}{{\"pid\":{},\"plugin\":{},\"version\":{},\"state\":\"{}\",\"served\":{},"
                                 "\"rss_bytes\":{},\"start_time\":{:.3f}}}",
                                 workers_now.empty() ? "" : ",", worker.pid, json_quoted(worker.plugin),
                                 worker.version, worker.state, worker.served, worker.rss_bytes,
                                 unix_seconds(worker.started));
    page += fmt::format(",\"requests_in_flight\":[{}],\"requests_not_listed\":{},\"worker_processes\":[{}]",
                        requests, full->requests_not_listed, workers_now);
  }
  return page + "}\n";
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

std::string as_openmetrics(const status_figures& now) {
  std::string page;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    page += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  std::string_view last_family;
  for (const auto& each : now.figures) {
    if (each.family.empty()) continue;
    if (each.family != last_family) family(each.family, each.type, each.help);
    last_family = each.family;
    page += each.labels.empty() ? fmt::format("{} {}\n", each.family, each.sample)
                                : fmt::format("{}{{{}}} {}\n", each.family, each.labels, each.sample);
  }
  family("fcgihost_requests_total", "counter", "Requests ended, by route and outcome.");
  for (const auto& route : now.routes)
    for (const auto outcome : all_request_outcomes)
      page += fmt::format("fcgihost_requests_total{{route=\"{}\",outcome=\"{}\"}} {}\n", label(route.name),
                          to_string(outcome), route.outcomes[static_cast<std::size_t>(outcome)]);
  family("fcgihost_responses_total", "counter",
         "Requests ended, by route and the class of the HTTP status the client got (none: no response).");
  for (const auto& route : now.routes)
    for (std::size_t i = 0; i < status_classes.size(); ++i)
      page += fmt::format("fcgihost_responses_total{{route=\"{}\",status=\"{}\"}} {}\n", label(route.name),
                          status_classes[i], route.statuses[i]);
  family("fcgihost_request_duration_seconds", "histogram",
         "Time from BEGIN_REQUEST to the request's end, by route.");
  for (const auto& route : now.routes) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < route.buckets.size(); ++i) {
      cumulative += route.buckets[i];
      page += fmt::format("fcgihost_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", label(route.name),
                          bucket_bound(i), cumulative);
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
  const auto now = read_status_figures(host);
  switch (format_asked(query_string)) {
    case format::json:
      return "Status: 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n" +
             as_json(now, full);
    case format::openmetrics:
      return "Status: 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nCache-Control: "
             "no-store\r\n\r\n" +
             as_openmetrics(now);
    case format::text: break;
  }
  return "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n\r\n" +
         as_text(now, full);
}

}  // namespace fcgihost::host
