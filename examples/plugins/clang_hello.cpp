// A C++ plugin built with clang++ and libc++ (not the host's g++ and
// libstdc++): the C ABI underneath <fcgihost/plugin.hpp> lets two C++
// runtimes meet without sharing a single object.
//   clang_hello.greet   Hello, QUERY_STRING, and which standard library said it
//   clang_hello.upper    the request body upper-cased, through libc++'s iostreams
#include <fcgihost/plugin.hpp>

#include <cctype>
#include <string>

namespace {

const char* library() {
#if defined(_LIBCPP_VERSION)
  return "libc++";
#else
  return "libstdc++";
#endif
}

int greet(fcgihost::request& r) {
  const std::string name(r.param("QUERY_STRING"));
  r.out() << "Content-Type: text/plain\r\n\r\nHello, " << (name.empty() ? "world" : name) << ", from "
          << library() << "!\n";
  return 0;
}

int upper(fcgihost::request& r) {
  r.out() << "Content-Type: text/plain\r\n\r\n";
  std::string line;
  while (std::getline(r.in(), line)) {
    for (char& c : line) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    r.out() << line << '\n';
    if (r.stop_requested()) return 1;
  }
  return 0;
}

}  // namespace

FCGIHOST_HANDLER(greet)
FCGIHOST_HANDLER(upper)
