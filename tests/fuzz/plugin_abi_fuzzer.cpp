// Fuzzes the read of a plugin file's export records before it is loaded
// (the file is whatever is in the plugins folder): no crash, no read out of
// bounds, and a file is only ever accepted when it is a 64-bit ELF file.
#include <runners/function/plugin_abi_check.hpp>

#include <elf.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto problem = fcgihost::runners::plugin_abi_problem(bytes);
  if (!problem && (size < sizeof(Elf64_Ehdr) || std::memcmp(data, ELFMAG, SELFMAG) != 0)) std::abort();
  if (problem && problem->empty()) std::abort();
  return 0;
}
