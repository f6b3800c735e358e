// What a script may use, and how long it gets to stop: set for all scripts
// and per route. A limit of 0 leaves the host's own limit in place.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace fcgihost::runners {

struct script_limits {
  // Between SIGTERM and SIGKILL to the script's process group.
  std::chrono::milliseconds kill_grace{3000};
  std::uint64_t cpu_seconds = 0;   // RLIMIT_CPU: SIGXCPU, then SIGKILL
  std::uint64_t memory_bytes = 0;  // RLIMIT_AS: allocations fail past it
  std::uint64_t open_files = 0;    // RLIMIT_NOFILE
  // RLIMIT_NPROC counts every process of the user the script runs as; the
  // kernel does not apply it to root.
  std::uint64_t processes = 0;
};

// The limits a config level sets; the ones it leaves unset come from the level above.
struct script_limit_overrides {
  std::optional<std::chrono::milliseconds> kill_grace;
  std::optional<std::uint64_t> cpu_seconds;
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> open_files;
  std::optional<std::uint64_t> processes;

  void apply_to(script_limits& limits) const {
    if (kill_grace) limits.kill_grace = *kill_grace;
    if (cpu_seconds) limits.cpu_seconds = *cpu_seconds;
    if (memory_bytes) limits.memory_bytes = *memory_bytes;
    if (open_files) limits.open_files = *open_files;
    if (processes) limits.processes = *processes;
  }
};

}  // namespace fcgihost::runners
