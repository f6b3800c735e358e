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

#include <cstddef>
#include <exception>
#include <istream>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <string_view>
#include <utility>
#include <vector>
#include <version>

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

 protected:
  ~request() = default;
};

using handler_function = int (*)(request&);

namespace detail {

// A stream's buffer is the host's own output buffer (output_space): bytes
// are written once, where the host sends them from.
class host_output_buffer final : public std::streambuf {
 public:
  host_output_buffer(const fcgihost_request_api& api, fcgihost_request* r, int stream)
      : api_(api), r_(r), stream_(stream) {}

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
  host_request(const fcgihost_request_api& api, fcgihost_request* r)
      : api_(api), r_(r), out_buffer_(api, r, FCGIHOST_STDOUT), err_buffer_(api, r, FCGIHOST_STDERR),
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
  try {
    host_request request(*api, r);
    const int status = Function(request);
    request.hand_over_output();
    return status;
  } catch (const std::exception& e) {
    report_failure(*api, r, e.what());
  } catch (...) {
    report_failure(*api, r, "the handler threw something that is not a std::exception");
  }
  return 1;
}

}  // namespace detail
}  // namespace fcgihost

// Exports `function` (int(fcgihost::request&)) under the handler name `name`.
#define FCGIHOST_HANDLER_AS(function, name) FCGIHOST_C_HANDLER(&::fcgihost::detail::call_handler<&function>, name)

// Exports `function` under its own name.
#define FCGIHOST_HANDLER(function) FCGIHOST_HANDLER_AS(function, #function)
