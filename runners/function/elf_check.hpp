// Whether a file's bytes can be a whole ELF shared object: a plugin still
// being copied into the folder must never reach dlopen, which dies of SIGBUS
// when a segment it maps runs past the end of the file. `cp` writes the
// header first and the section header table last, so a file is taken as
// complete only when every table and segment the header names lies inside it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fcgihost::runners {

// Enough of the file's start to hold the ELF header and the program headers.
inline constexpr std::size_t elf_check_prefix_bytes = 64 * 1024;

struct elf_verdict {
  enum class kind { whole, truncated, not_a_library };
  kind result = kind::whole;
  std::string reason;  // unless whole
};

// `prefix`: the file's first bytes (up to elf_check_prefix_bytes);
// `file_size`: its whole size.
elf_verdict check_elf_file(std::string_view prefix, std::uint64_t file_size);

}  // namespace fcgihost::runners
