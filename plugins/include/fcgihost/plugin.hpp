// The fcgi-host plugin SDK: the only header a plugin author includes.
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
#pragma once

#include <cstddef>
#include <istream>
#include <ostream>
#include <stop_token>
#include <string_view>
#include <utility>
#include <vector>

namespace fcgihost {

// Bumped when `request` or `handler_export` change; the host refuses a plugin
// built against another version instead of crashing in it.
inline constexpr int plugin_abi_version = 1;

// One FastCGI request as a handler sees it. The host owns it; it lives until
// the handler returns.
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
  virtual std::stop_token stop_token() const = 0;
  bool stop_requested() const { return stop_token().stop_requested(); }

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

// What FCGIHOST_HANDLER exports: one record per handler in the ELF section
// "fcgihost", which the host lists to find a plugin's handlers by name.
struct handler_export {
  int abi_version;
  const char* name;
  handler_function function;
};

}  // namespace fcgihost

#define FCGIHOST_DETAIL_CONCAT_(a, b) a##b
#define FCGIHOST_DETAIL_CONCAT(a, b) FCGIHOST_DETAIL_CONCAT_(a, b)

// Exports `function` (int(fcgihost::request&)) under the handler name `name`.
#define FCGIHOST_HANDLER_AS(function, name)                                                   \
  extern "C" __attribute__((visibility("default"), used, section("fcgihost")))              \
  const ::fcgihost::handler_export FCGIHOST_DETAIL_CONCAT(fcgihost_handler_, __COUNTER__){  \
      ::fcgihost::plugin_abi_version, name, static_cast<::fcgihost::handler_function>(&function)};

// Exports `function` under its own name.
#define FCGIHOST_HANDLER(function) FCGIHOST_HANDLER_AS(function, #function)
