// Fuzzes the config loader (what SIGHUP reads again while the host serves):
// any text is either a config or an error naming why, never a crash or a
// hang, and a text the shape check lets through is one toml++ can take.
#include <host/config/config.hpp>
#include <host/config/config_shape.hpp>

#include <cstdint>
#include <exception>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fcgihost::host::host_config config;
  try {
    fcgihost::host::load_config_text(config, text, "fuzz.toml");
  } catch (const std::exception&) {
    // A refused config is an answer.
  }
  // Tighter limits than the host's, so the fuzzer reaches them with small inputs.
  const fcgihost::host::config_shape_limits small{.max_bytes = 4096, .max_key_parts = 3, .max_nesting = 3};
  (void)fcgihost::host::config_shape_problem(text, small);
  return 0;
}
