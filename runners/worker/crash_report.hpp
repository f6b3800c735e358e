// The host's side of a worker's crash dump (see crash_dump_writer): parses
// it (it comes from a dying process: any bytes at all must parse safely) and
// symbolises its frames against the files the worker had mapped, with
// libbacktrace, as "#3 greet at hello.cpp:12 in libhello.so".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fcgihost::runners {

struct crash_dump {
  struct mapping {
    std::uintptr_t start = 0, end = 0, offset = 0;
    std::string path;
  };
  int signal = 0;
  std::optional<std::uintptr_t> fault_address;
  std::vector<std::uintptr_t> frames;  // the crashing thread's, innermost first
  std::vector<mapping> maps;
};

crash_dump parse_crash_dump(std::string_view text);

// One line per frame, from the first frame past the signal handler;
// frames without a file show as raw addresses. The dump's file names are a
// worker's words: only files the host trusts are read for symbols (the
// objects the host itself has loaded, and those under a folder it trusts),
// each a regular file opened without blocking; any other frame shows as
// its file's name and offset.
// Files under `folder` (the host's own private copies of plugins) may be
// read for symbols.
void trust_symbol_files_under(const std::string& folder);
std::vector<std::string> symbolised_frames(const crash_dump& dump, std::size_t max_frames = 32);

}  // namespace fcgihost::runners
