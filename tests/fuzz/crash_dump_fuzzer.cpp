// Fuzzes the reader of a crashed worker's dump: it comes from a dying
// process that ran a plugin, so any bytes at all must parse safely, within
// bounds, and give only well-formed mappings.
#include <runners/worker/crash_report.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto dump = fcgihost::runners::parse_crash_dump(text);
  if (dump.frames.size() > 1024) std::abort();
  if (dump.signal < 0 || dump.signal >= 128) std::abort();
  for (const auto& entry : dump.maps)
    if (entry.end <= entry.start || entry.path.size() > size) std::abort();
  return 0;
}
