// Fuzzes the check that keeps a half-written plugin from dlopen: the file's
// first bytes and its size come from whatever is in the plugins folder. No
// crash, no read out of bounds, and a file is only ever "whole" when its
// header says it is a 64-bit shared library that fits in it.
#include <runners/function/elf_check.hpp>

#include <elf.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t file_size = 0;
  std::memcpy(&file_size, data, sizeof file_size);
  const std::string_view prefix(reinterpret_cast<const char*>(data + 8), size - 8);
  const auto verdict = fcgihost::runners::check_elf_file(prefix, file_size);
  using kind = fcgihost::runners::elf_verdict::kind;
  if (verdict.result == kind::whole) {
    if (prefix.size() < sizeof(Elf64_Ehdr) || std::memcmp(prefix.data(), ELFMAG, SELFMAG) != 0) std::abort();
    if (file_size < sizeof(Elf64_Ehdr)) std::abort();
  } else if (verdict.reason.empty()) {
    std::abort();
  }
  return 0;
}
