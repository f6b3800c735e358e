// The host's status page as a test reads it: the figures of `?json`, so a
// test checks a counter instead of a log line's wording. Header-only: the
// test binary compiles Boost.JSON in one of its files (<boost/json/src.hpp>).
#pragma once

#include <boost/json.hpp>

#include <string>

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

}  // namespace fcgihost::test
