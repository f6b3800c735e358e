// The fcgi-host plugin SDK for C++: the only header a plugin author includes.
//
//   #include <fcgihost/plugin.hpp>
//
//   int greet(fcgihost::request& r) {
//     r.out() << "Content-Type: text/plain\r\n\r\nHello, " << r.param("QUERY_STRING") << "\n";
//     return 0;  // the app status in END_REQUEST
//   }
//   FCGIHOST_HANDLER(greet)                 // served as PLUGIN.greet
//   FCGIHOST_HANDLER_AS(greet, "hello-there")  // and under any other name
//
// Build it with fcgihost_add_plugin(NAME SOURCES...) and drop lib NAME .so in
// the host's plugins folder. Standard library only.
//
// Header-only, on the plugin's side of the C ABI (<fcgihost/plugin.h>): the
// request, its streams and its stop token are built here, in the plugin's
// own C++ runtime, over the host's C functions. Nothing of C++ crosses to
// the host, so a plugin may be built with clang and libc++, or with a
// static libstdc++. An exception a handler lets out is caught here and the
// host answers 500 with its message.
#pragma once

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <istream>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>
#include <version>

#include "form.hpp"

// std::stop_token, where the standard library has it (libstdc++ 10 and
// later; libc++ from 18). Without it, request::stop_token() is not there:
// stop_requested() and wait_for_stop() are.
#if defined(__cpp_lib_jthread)
#include <stop_token>
#define FCGIHOST_HAS_STOP_TOKEN 1
#else
#define FCGIHOST_HAS_STOP_TOKEN 0
#endif

#include "plugin.h"

namespace fcgihost {

// The ABI version this header speaks (see plugin.h).
inline constexpr int plugin_abi_version = FCGIHOST_ABI_VERSION;

// Thrown from a handler: the client gets this HTTP status and the message
// as a plain-text body (if no output went out yet; else the response is cut).
class http_error : public std::runtime_error {
 public:
  http_error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

// "Not Found" for 404; "Unknown" for a code it does not know.
inline std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

// The CGI header block: "Status: 200 OK", Content-Type, the other headers,
// the blank line. Throws std::invalid_argument for a status outside
// 100-999, a header name that is not an HTTP token, or a value with CR or LF
// (a header a client's input could split).
inline std::string cgi_head(int status, std::string_view content_type,
                            std::initializer_list<std::pair<std::string_view, std::string_view>> headers = {}) {
  auto check_value = [](std::string_view value) {
    if (value.find_first_of("\r\n") != std::string_view::npos)
      throw std::invalid_argument("a header value has a line break");
  };
  auto check_name = [](std::string_view name) {
    if (name.empty()) throw std::invalid_argument("a header name is empty");
    for (const char c : name)
      if (c <= ' ' || c >= 0x7f || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos)
        throw std::invalid_argument("a header name is not an HTTP token: " + std::string(name));
  };
  if (status < 100 || status > 999) throw std::invalid_argument("an HTTP status is 100-999");
  check_value(content_type);
  std::string head = "Status: " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  if (!content_type.empty()) head += "Content-Type: " + std::string(content_type) + "\r\n";
  for (const auto& [name, value] : headers) {
    check_name(name);
    check_value(value);
    head += std::string(name) + ": " + std::string(value) + "\r\n";
  }
  return head + "\r\n";
}

// One FastCGI request as a handler sees it; it lives until the handler returns.
class request {
 public:
  // A CGI parameter (SCRIPT_FILENAME, QUERY_STRING, HTTP_COOKIE...), empty when absent.
  virtual std::string_view param(std::string_view name) const = 0;
  virtual std::size_t param_count() const = 0;
  virtual std::pair<std::string_view, std::string_view> param_at(std::size_t index) const = 0;

  // FCGI_STDIN, streamed as the web server sends it.
  virtual std::istream& in() = 0;
  // FCGI_STDOUT and FCGI_STDERR: sent as records on std::flush and whenever
  // the buffer fills. A slow client makes writes wait (bounded memory).
  virtual std::ostream& out() = 0;
  virtual std::ostream& err() = 0;

  // Fires on timeout, on ABORT_REQUEST and when the web server goes away.
  // Output after that is discarded; return soon.
#if FCGIHOST_HAS_STOP_TOKEN
  virtual std::stop_token stop_token() const = 0;
  virtual bool stop_requested() const { return stop_token().stop_requested(); }
#else
  virtual bool stop_requested() const = 0;
#endif

  // Every parameter, in the order the web server sent them.
  std::vector<std::pair<std::string_view, std::string_view>> params() const {
    std::vector<std::pair<std::string_view, std::string_view>> all;
    all.reserve(param_count());
    for (std::size_t i = 0; i < param_count(); ++i) all.push_back(param_at(i));
    return all;
  }

  // Waits until the request is stopped, at most `limit`: true if it was.
  virtual bool wait_for_stop(std::chrono::nanoseconds limit) {
#if FCGIHOST_HAS_STOP_TOKEN
    std::mutex mutex;
    std::condition_variable_any never;
    std::unique_lock lock(mutex);
    never.wait_for(lock, stop_token(), limit, [] { return false; });
#else
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!stop_requested() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
#endif
    return stop_requested();
  }

  // --- Conveniences: what every handler would otherwise write itself ---

  // Writes the CGI header block (see cgi_head): r.respond(200, "text/plain").
  void respond(int status, std::string_view content_type,
               std::initializer_list<std::pair<std::string_view, std::string_view>> headers = {}) {
    out() << cgi_head(status, content_type, headers);
  }
  // The whole request body, at most `max_bytes`: a longer one is an
  // http_error(413) (the host's max-body-bytes applies before this).
  std::string read_body(std::size_t max_bytes) {
    std::string body;
    char chunk[16 * 1024];
    while (in().read(chunk, sizeof chunk) || in().gcount() > 0) {
      body.append(chunk, static_cast<std::size_t>(in().gcount()));
      if (body.size() > max_bytes)
        throw http_error(413, "The request body is larger than " + std::to_string(max_bytes) + " bytes.");
    }
    return body;
  }
  // QUERY_STRING, decoded once and kept with the request, so what
  // `auto name = r.query().value_or("name", "world");` points into lives as
  // long as the request.
  const form_fields& query() const {
    if (!query_) query_ = parse_form(param("QUERY_STRING"));
    return *query_;
  }
  // An application/x-www-form-urlencoded body, decoded (at most
  // `max_bytes`) and kept; empty for a body of another type. It reads the
  // body: call it instead of in(), not after.
  const form_fields& form(std::size_t max_bytes = 1024 * 1024) {
    if (!form_) form_ = is_urlencoded(param("CONTENT_TYPE")) ? parse_form(read_body(max_bytes)) : form_fields();
    return *form_;
  }
  // The Cookie header's cookies, decoded once and kept: r.cookies().get("session").
  const form_fields& cookies() const {
    if (!cookies_) cookies_ = parse_cookies(param("HTTP_COOKIE"));
    return *cookies_;
  }
  std::optional<std::string> cookie(std::string_view name) const {
    const auto found = cookies().get(name);
    return found ? std::optional<std::string>(std::string(*found)) : std::nullopt;
  }
  // Sleeps `duration`, or less if the request is stopped first: true if it slept it all.
  template <typename Rep, typename Period>
  bool sleep_for(std::chrono::duration<Rep, Period> duration) {
    return !wait_for_stop(std::chrono::duration_cast<std::chrono::nanoseconds>(duration));
  }
  // Waits on `wake` until `ready()` or the request is stopped: whether ready() holds.
  template <typename Lock, typename Predicate>
  bool wait(std::condition_variable_any& wake, Lock& lock, Predicate ready) {
#if FCGIHOST_HAS_STOP_TOKEN
    return wake.wait(lock, stop_token(), ready);
#else
    while (!ready() && !stop_requested()) wake.wait_for(lock, std::chrono::milliseconds(10));
    return ready();
#endif
  }

 protected:
  ~request() = default;

 private:
  static bool is_urlencoded(std::string_view type) {
    constexpr std::string_view urlencoded = "application/x-www-form-urlencoded";
    if (type.size() < urlencoded.size()) return false;
    for (std::size_t i = 0; i < urlencoded.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(type[i])) != urlencoded[i]) return false;
    return type.size() == urlencoded.size() || type[urlencoded.size()] == ';' || type[urlencoded.size()] == ' ';
  }

  mutable std::optional<form_fields> query_, cookies_;
  std::optional<form_fields> form_;
};

using handler_function = int (*)(request&);

// The plugin's own settings, the [plugin.NAME] table of the host's config
// (every value as text), given to its init.
class plugin_config {
 public:
  plugin_config(std::string_view plugin, form_fields settings) : plugin_(plugin), settings_(std::move(settings)) {}
  std::string_view plugin() const { return plugin_; }
  std::optional<std::string_view> get(std::string_view name) const { return settings_.get(name); }
  std::string_view value_or(std::string_view name, std::string_view fallback) const {
    return settings_.value_or(name, fallback);
  }
  const form_fields& settings() const { return settings_; }

 private:
  std::string plugin_;
  form_fields settings_;
};

namespace detail {

// A stream's buffer is the host's own output buffer (output_space): bytes
// are written once, where the host sends them from.
class host_output_buffer final : public std::streambuf {
 public:
  host_output_buffer(const fcgihost_request_api& api, fcgihost_request* r, int stream, bool* sent_any = nullptr)
      : api_(api), r_(r), stream_(stream), sent_any_(sent_any) {}

  // What the handler wrote and did not flush goes to the host (which sends it with END_REQUEST).
  void hand_over() {
    if (!failed_ && pptr() != pbase()) api_.commit(r_, stream_, static_cast<std::size_t>(pptr() - pbase()), 0);
    setp(nullptr, nullptr);
  }

 protected:
  int_type overflow(int_type c) override {
    if (failed_ || !commit(0) || !attach()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return !failed_ && commit(1) ? 0 : -1; }

 private:
  bool commit(int flush) {
    const auto used = static_cast<std::size_t>(pptr() - pbase());
    setp(nullptr, nullptr);
    if (used > 0 && sent_any_) *sent_any_ = true;
    if ((used > 0 || flush) && api_.commit(r_, stream_, used, flush) != 0) failed_ = true;  // the request is over
    return !failed_;
  }
  bool attach() {
    std::size_t space = 0;
    char* start = api_.output_space(r_, stream_, &space);
    if (!start || space == 0) {
      failed_ = true;
      return false;
    }
    setp(start, start + space);
    return true;
  }

  const fcgihost_request_api& api_;
  fcgihost_request* const r_;
  const int stream_;
  bool* const sent_any_;  // set once bytes went to the host
  bool failed_ = false;
};

// FCGI_STDIN, read in the chunks the host holds (no copy).
class host_input_buffer final : public std::streambuf {
 public:
  host_input_buffer(const fcgihost_request_api& api, fcgihost_request* r) : api_(api), r_(r) {}

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (ended_) return traits_type::eof();
    const fcgihost_bytes chunk = api_.read(r_);
    if (chunk.size == 0) {
      ended_ = true;
      return traits_type::eof();
    }
    // The get area is only read from: the default pbackfail never writes to it.
    char* start = const_cast<char*>(chunk.data);
    setg(start, start, start + chunk.size);
    return traits_type::to_int_type(*gptr());
  }

 private:
  const fcgihost_request_api& api_;
  fcgihost_request* const r_;
  bool ended_ = false;
};

// fcgihost::request over the host's C functions.
class host_request final : public request {
 public:
  // `output_sent`: set once stdout bytes went to the host.
  host_request(const fcgihost_request_api& api, fcgihost_request* r, bool* output_sent)
      : api_(api), r_(r), out_buffer_(api, r, FCGIHOST_STDOUT, output_sent), err_buffer_(api, r, FCGIHOST_STDERR),
        in_buffer_(api, r), out_(&out_buffer_), err_(&err_buffer_), in_(&in_buffer_) {}
  ~host_request() {
    // The host never calls back after this (see set_stop_callback).
    if (watching_stop_) api_.set_stop_callback(r_, nullptr, nullptr);
  }
  host_request(const host_request&) = delete;
  host_request& operator=(const host_request&) = delete;

  std::string_view param(std::string_view name) const override {
    fcgihost_bytes value{};
    api_.param(r_, name.data(), name.size(), &value);
    return {value.data, value.size};
  }
  std::size_t param_count() const override { return api_.param_count(r_); }
  std::pair<std::string_view, std::string_view> param_at(std::size_t index) const override {
    fcgihost_bytes name{}, value{};
    api_.param_at(r_, index, &name, &value);
    return {{name.data, name.size}, {value.data, value.size}};
  }
  std::istream& in() override { return in_; }
  std::ostream& out() override { return out_; }
  std::ostream& err() override { return err_; }
#if FCGIHOST_HAS_STOP_TOKEN
  std::stop_token stop_token() const override {
    // A stop source of the plugin's own runtime, stopped by the host's callback.
    std::call_once(watch_stop_, [this] {
      watching_stop_ = true;
      api_.set_stop_callback(r_, [](void* source) { static_cast<std::stop_source*>(source)->request_stop(); },
                             &stop_);
    });
    return stop_.get_token();
  }
#endif
  bool stop_requested() const override { return api_.stop_requested(r_) != 0; }
  bool wait_for_stop(std::chrono::nanoseconds limit) override {
    return api_.wait_for_stop(r_, static_cast<std::int64_t>(limit.count())) != 0;
  }

  // The handler returned: its unflushed output goes to the host.
  void hand_over_output() {
    out_buffer_.hand_over();
    err_buffer_.hand_over();
  }

 private:
  const fcgihost_request_api& api_;
  fcgihost_request* const r_;
  host_output_buffer out_buffer_;
  host_output_buffer err_buffer_;
  host_input_buffer in_buffer_;
  std::ostream out_;
  std::ostream err_;
  std::istream in_;
#if FCGIHOST_HAS_STOP_TOKEN
  mutable std::stop_source stop_;
  mutable std::once_flag watch_stop_;
#endif
  mutable bool watching_stop_ = false;
};

inline void report_failure(const fcgihost_request_api& api, fcgihost_request* r, std::string_view what) {
  api.fail(r, what.data(), what.size());
}

// The C handler FCGIHOST_HANDLER exports for a C++ one.
template <handler_function Function>
int call_handler(const fcgihost_request_api* api, fcgihost_request* r) noexcept {
  bool output_sent = false;
  try {
    host_request request(*api, r, &output_sent);
    const int status = Function(request);
    request.hand_over_output();
    return status;
  } catch (const http_error& e) {
    // Its own answer, unless the response had begun (then the host cuts it).
    if (output_sent) {
      report_failure(*api, r, e.what());
      return 1;
    }
    try {
      const std::string response = cgi_head(e.status(), "text/plain; charset=utf-8") + e.what() + "\n";
      return api->write(r, FCGIHOST_STDOUT, response.data(), response.size()) == 0 ? 0 : 1;
    } catch (const std::exception& bad_status) {
      report_failure(*api, r, bad_status.what());
    }
  } catch (const std::exception& e) {
    report_failure(*api, r, e.what());
  } catch (...) {
    report_failure(*api, r, "the handler threw something that is not a std::exception");
  }
  return 1;
}

// The C init FCGIHOST_INIT exports: a throw is the plugin's failure, its message what the client sees.
template <void (*Init)(const plugin_config&)>
int call_init(const fcgihost_plugin_settings* given, void (*fail)(void*, const char*, std::size_t),
              void* context) noexcept {
  try {
    std::vector<form_fields::field> fields;
    for (std::size_t i = 0; i < given->count; ++i)
      fields.emplace_back(std::string(given->settings[i].name.data, given->settings[i].name.size),
                          std::string(given->settings[i].value.data, given->settings[i].value.size));
    Init(plugin_config(std::string_view(given->plugin.data, given->plugin.size), form_fields(std::move(fields))));
    return 0;
  } catch (const std::exception& e) {
    const std::string_view what = e.what();
    fail(context, what.data(), what.size());
  } catch (...) {
    constexpr std::string_view what = "its init threw something that is not a std::exception";
    fail(context, what.data(), what.size());
  }
  return 1;
}

template <void (*Shutdown)()>
void call_shutdown() noexcept {
  try {
    Shutdown();
  } catch (...) {
    // Nothing is left to tell: the plugin is going away.
  }
}

}  // namespace detail
}  // namespace fcgihost

// Runs `function` (void(const fcgihost::plugin_config&)) once when the plugin
// is loaded, before any handler; a throw makes every request for it a 500
// with the exception's message, until its file or its settings change.
#define FCGIHOST_INIT(function) FCGIHOST_C_INIT(&::fcgihost::detail::call_init<&function>)
// Runs `function` (void()) once before the plugin is unloaded.
#define FCGIHOST_SHUTDOWN(function) FCGIHOST_C_SHUTDOWN(&::fcgihost::detail::call_shutdown<&function>)

// Exports `function` (int(fcgihost::request&)) under the handler name `name`.
#define FCGIHOST_HANDLER_AS(function, name) FCGIHOST_C_HANDLER(&::fcgihost::detail::call_handler<&function>, name)

// Exports `function` under its own name.
#define FCGIHOST_HANDLER(function) FCGIHOST_HANDLER_AS(function, #function)
