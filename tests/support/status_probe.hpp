// What a test reads of a host instead of its log's wording: the figures of
// the status page's `?json` (host_process gives every host --status-path
// /status unless the test sets its own) and the JSON access lines (every
// host writes them, --access-log-format json, unless the test says
// otherwise). Header-only: the test binary compiles Boost.JSON in one of its
// files (<boost/json/src.hpp>).
#pragma once

#include <boost/json.hpp>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <client/connection.hpp>

#include "host_process.hpp"
#include "run_async.hpp"

namespace fcgihost::test {

// A request as nginx sends one for `uri`: SCRIPT_NAME is the path, and
// SCRIPT_FILENAME names no plugin or script.
inline client::request_options request_for_path(const std::string& uri, std::string query = {}) {
  client::request_options options;
  options.params = {{"SCRIPT_NAME", uri},
                    {"SCRIPT_FILENAME", "/var/www" + uri},
                    {"REQUEST_METHOD", "GET"},
                    {"REQUEST_URI", uri},
                    {"QUERY_STRING", std::move(query)}};
  return options;
}

// The body of the page at `path` with `query` (run inside run_async).
inline boost::asio::awaitable<std::string> status_body(std::string address, std::string query,
                                                       std::string path = "/status") {
  auto conn = co_await client::connection::connect(address);
  auto options = request_for_path(path, std::move(query));
  const auto response = co_await conn.send(std::move(options));
  const auto body = response.out.find("\r\n\r\n");
  co_return body == std::string::npos ? response.out : response.out.substr(body + 4);
}

// The page's figures (an empty object, and a test failure, if it is not JSON).
inline boost::json::object status_json(const host_process& host, std::string path = "/status") {
  const auto body = run_async([&] { return status_body(host.address(), "json", path); });
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  EXPECT_FALSE(ec) << body;
  return ec || !value.is_object() ? boost::json::object() : value.as_object();
}

// One figure of the page's `workers` object.
inline std::int64_t worker_figure(const host_process& host, const char* name) {
  const auto status = status_json(host);
  const auto* workers = status.if_contains("workers");
  if (!workers || !workers->is_object() || !workers->as_object().contains(name)) {
    ADD_FAILURE() << "no workers." << name << " on the status page";
    return -1;
  }
  return workers->as_object().at(name).as_int64();
}

// A figure of the page by its dotted path ("connections.closed.idle_timeout"):
// -1, and a test failure, when the page has no such number.
inline std::int64_t figure_in(const boost::json::object& page, std::string_view path) {
  const boost::json::value* at = nullptr;
  const boost::json::object* object = &page;
  while (object) {
    const auto dot = path.find('.');
    at = object->if_contains(path.substr(0, dot));
    if (!at || dot == std::string_view::npos) break;
    object = at->if_object();
    path.remove_prefix(dot + 1);
  }
  if (!at || !at->is_int64()) {
    ADD_FAILURE() << "no figure " << path << " on the status page";
    return -1;
  }
  return at->as_int64();
}

inline std::int64_t figure(const host_process& host, std::string_view path) {
  return figure_in(status_json(host), path);
}

// Reads `count()` until it is at least `least` or `limit` passes; returns the last.
template <typename Count, typename Number>
Number read_until_at_least(Count count, Number least, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto seen = count();
  while (seen < least && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    seen = count();
  }
  return seen;
}

// Waits (bounded) until the figure is at least `least`; returns it then.
inline std::int64_t wait_for_figure(const host_process& host, std::string_view path, std::int64_t least,
                                    std::chrono::seconds limit = std::chrono::seconds(10)) {
  return read_until_at_least([&] { return figure(host, path); }, least, limit);
}

// The JSON access lines written so far, in order.
inline std::vector<boost::json::object> access_lines(const host_process& host) {
  std::vector<boost::json::object> lines;
  std::istringstream log(host.log());
  for (std::string line; std::getline(log, line);) {
    if (!line.starts_with("{\"time\":")) continue;
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (!ec && value.is_object()) lines.push_back(std::move(value.as_object()));
  }
  return lines;
}

// What an access line must say; what is left empty may be anything.
struct access_match {
  std::optional<std::string> script = {};
  std::optional<std::string> runner = {};
  std::optional<std::string> outcome = {};
  std::optional<std::string> uri = {};
  std::optional<int> status = {};
  std::optional<int> app_status = {};
  std::optional<bool> in_worker = {};  // a worker_pid is there (true), or null (false)

  bool operator()(const boost::json::object& line) const {
    const auto text_is = [&](const char* field, const std::optional<std::string>& wanted) {
      if (!wanted) return true;
      const auto* value = line.if_contains(field);
      return value && value->is_string() && value->as_string() == *wanted;
    };
    const auto number_is = [&](const char* field, const std::optional<int>& wanted) {
      if (!wanted) return true;
      const auto* value = line.if_contains(field);
      return value && value->is_int64() && value->as_int64() == *wanted;
    };
    const auto* pid = line.if_contains("worker_pid");
    return text_is("script", script) && text_is("runner", runner) && text_is("outcome", outcome) &&
           text_is("uri", uri) && number_is("status", status) && number_is("app_status", app_status) &&
           (!in_worker || (pid && pid->is_int64()) == *in_worker);
  }
};

inline std::size_t count_access(const host_process& host, const access_match& wanted) {
  std::size_t n = 0;
  for (const auto& line : access_lines(host)) n += wanted(line) ? 1 : 0;
  return n;
}

// Waits (bounded) until `count` access lines match; returns how many do.
// Access lines are written after the response went out: they may lag the
// client by a moment.
inline std::size_t wait_for_access(const host_process& host, const access_match& wanted, std::size_t count = 1,
                                   std::chrono::seconds limit = std::chrono::seconds(10)) {
  return read_until_at_least([&] { return count_access(host, wanted); }, count, limit);
}

}  // namespace fcgihost::test
