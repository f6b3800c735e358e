// The message of the exception a coroutine ended with, for the log line of a
// co_spawn completion handler (which must not throw it on).
#pragma once

#include <exception>
#include <string>

namespace fcgihost::runners {

inline std::string exception_text(const std::exception_ptr& failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace fcgihost::runners
