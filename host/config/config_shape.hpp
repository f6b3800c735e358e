// Limits on a config file's shape, checked before the TOML parser sees it:
// toml++ recurses once per component of a dotted key, so a header such as
// [a.a.a...] 50,000 deep overflows the stack (SIGSEGV at start or on SIGHUP).
// A config is small and shallow; anything else is refused with its line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fcgihost::host {

struct config_shape_limits {
  std::size_t max_bytes = 16 * 1024 * 1024;  // a plugin's settings may hold certificates
  std::size_t max_key_parts = 32;  // a.b.c is 3
  std::size_t max_nesting = 32;    // arrays and inline tables inside each other
};

// Why `text` is out of shape ("line N: ..."), or empty when it is within the limits.
std::string config_shape_problem(std::string_view text, const config_shape_limits& limits = {});

}  // namespace fcgihost::host
