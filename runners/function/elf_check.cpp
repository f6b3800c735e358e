#include "elf_check.hpp"

#include <elf.h>

#include <cstring>

namespace fcgihost::runners {

namespace {

template <typename T>
T read_at(std::string_view bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

bool covers(std::uint64_t offset, std::uint64_t count, std::uint64_t entry_size, std::uint64_t size) {
  if (count == 0) return true;
  if (entry_size == 0 || count > size / entry_size) return false;
  return offset <= size && count * entry_size <= size - offset;
}

}  // namespace

elf_verdict check_elf_file(std::string_view prefix, std::uint64_t file_size) {
  using enum elf_verdict::kind;
  if (prefix.size() < sizeof(Elf64_Ehdr) || file_size < sizeof(Elf64_Ehdr))
    return {truncated, "it is shorter than an ELF header"};
  if (std::memcmp(prefix.data(), ELFMAG, SELFMAG) != 0) return {not_a_library, "it is not an ELF file"};
  if (static_cast<unsigned char>(prefix[EI_CLASS]) != ELFCLASS64) return {not_a_library, "it is not a 64-bit ELF file"};
  if (static_cast<unsigned char>(prefix[EI_DATA]) != ELFDATA2LSB) return {not_a_library, "it is not a little-endian ELF file"};
  const auto header = read_at<Elf64_Ehdr>(prefix, 0);
  if (header.e_type != ET_DYN) return {not_a_library, "it is not a shared library"};
  if (!covers(header.e_shoff, header.e_shnum, header.e_shentsize, file_size))
    return {truncated, "its section header table runs past its end"};
  if (!covers(header.e_phoff, header.e_phnum, header.e_phentsize, file_size))
    return {truncated, "its program header table runs past its end"};
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      !covers(header.e_phoff, header.e_phnum, sizeof(Elf64_Phdr), prefix.size()))
    return {not_a_library, "its program headers are not where a shared library has them"};
  for (std::size_t i = 0; i < header.e_phnum; ++i) {
    const auto segment = read_at<Elf64_Phdr>(prefix, header.e_phoff + i * sizeof(Elf64_Phdr));
    if (segment.p_type != PT_LOAD) continue;
    if (segment.p_offset > file_size || segment.p_filesz > file_size - segment.p_offset)
      return {truncated, "a segment runs past its end"};
  }
  return {};
}

}  // namespace fcgihost::runners
