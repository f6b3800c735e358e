// The figures the status page shows, declared once: each with its place in
// the JSON, its line on the text page and its OpenMetrics family, so that the
// three formats (status_page.cpp) iterate one list and a new figure is one
// line here. Per-route figures and the full view are lists of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <host/status/metrics.hpp>

namespace fcgihost::host {

struct host_state;

struct figure {
  std::string path = {};         // in the JSON, dotted: "connections.closed.idle_timeout"
  std::string text_name = {};    // its line on the text page; empty: not there
  std::string_view family = {};  // its OpenMetrics family; empty: not there
  std::string_view type = {};    // "counter" or "gauge"
  std::string_view help = {};
  std::string labels = {};  // this figure's labels in its family: `reason="idle"`
  std::string json = {};    // the value as each format writes it
  std::string text = {};
  std::string sample = {};
};

struct status_figures {
  std::vector<figure> figures;  // those of one family follow each other
  std::vector<route_metrics::snapshot> routes;
};

status_figures read_status_figures(const host_state& host);

}  // namespace fcgihost::host
