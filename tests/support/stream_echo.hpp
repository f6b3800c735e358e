// Streams a body through an echoing target (the echo.body handler, the
// echo.sh script) while reading the echo, and checks every byte came back in
// order: for tests of memory and throughput under a large upload.
#pragma once

#include <cstdint>
#include <string>

#include "host_process.hpp"

namespace fcgihost::test {

// Sends `total` bytes to SCRIPT_FILENAME `script` at `address` (the response
// starts with "Content-Type: application/octet-stream", then the echo).
// Records gtest failures for a wrong echo; returns the seconds taken.
double stream_echo(const std::string& address, const std::string& script, std::uint64_t total);

// A gibibyte through `script` of `host` (started with --full-duplex true),
// its speed printed under `label`, with the host's peak RSS under 64 MiB.
void expect_gibibyte_echo_in_bounded_memory(const host_process& host, const std::string& script,
                                            const std::string& label);

}  // namespace fcgihost::test
