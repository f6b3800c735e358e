// Streams a body through an echoing target (the echo.body handler, the
// echo.sh script) while reading the echo, and checks every byte came back in
// order: for tests of memory and throughput under a large upload.
#pragma once

#include <cstdint>
#include <string>

namespace fcgihost::test {

// Sends `total` bytes to SCRIPT_FILENAME `script` at `address` (the response
// starts with "Content-Type: application/octet-stream", then the echo).
// Records gtest failures for a wrong echo; returns the seconds taken.
double stream_echo(const std::string& address, const std::string& script, std::uint64_t total);

}  // namespace fcgihost::test
