#include "plugin_abi_check.hpp"

#include <elf.h>

#include <cstring>

#include <fcgihost/plugin.h>

namespace fcgihost::runners {

namespace {

// A T at `offset` of `bytes`, if it is all there.
template <typename T>
std::optional<T> read_at(std::string_view bytes, std::uint64_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Records lie end to end (see FCGIHOST_EXPORT_ALIGN), each with its version
// first: the host reads the version of records of any version at offset 0.
constexpr std::size_t record_size = sizeof(fcgihost_export);
static_assert(record_size == FCGIHOST_EXPORT_ALIGN);
static_assert(offsetof(fcgihost_export, abi_version) == 0);

}  // namespace

std::string abi_mismatch_text(std::uint32_t version) {
  return "built for plugin ABI " + std::to_string(version) + ", the host speaks " +
         std::to_string(FCGIHOST_ABI_VERSION) + ": rebuild it against this host's SDK";
}

std::optional<std::string> plugin_abi_problem(std::string_view bytes) {
  const auto header = read_at<Elf64_Ehdr>(bytes, 0);
  if (!header || std::memcmp(header->e_ident, ELFMAG, SELFMAG) != 0) return "it is not an ELF file";
  if (header->e_ident[EI_CLASS] != ELFCLASS64 || header->e_ident[EI_DATA] != ELFDATA2LSB)
    return "it is not a 64-bit little-endian ELF file";
  if (header->e_shentsize != sizeof(Elf64_Shdr) || header->e_shnum == 0 || header->e_shstrndx >= header->e_shnum)
    return "its section headers are missing or malformed";
  auto section = [&](std::uint64_t index) {
    return read_at<Elf64_Shdr>(bytes, header->e_shoff + index * sizeof(Elf64_Shdr));
  };
  const auto names = section(header->e_shstrndx);
  if (!names || names->sh_offset > bytes.size() || bytes.size() - names->sh_offset < names->sh_size)
    return "its section names lie outside the file";
  const std::string_view name_table = bytes.substr(names->sh_offset, names->sh_size);
  std::optional<Elf64_Shdr> exports;
  for (std::uint64_t i = 0; i < header->e_shnum; ++i) {
    const auto candidate = section(i);
    if (!candidate) return "its section headers lie outside the file";
    if (candidate->sh_name >= name_table.size()) continue;
    const std::string_view rest = name_table.substr(candidate->sh_name);
    if (rest.substr(0, rest.find('\0')) == "fcgihost") exports = candidate;
  }
  if (!exports || exports->sh_size == 0) return "it exports no handlers (FCGIHOST_HANDLER)";
  if (exports->sh_type == SHT_NOBITS || exports->sh_offset > bytes.size() ||
      bytes.size() - exports->sh_offset < exports->sh_size)
    return "its \"fcgihost\" section lies outside the file";
  // The first record's version first: a plugin of ABI 1 had records of another size.
  if (const auto first = read_at<std::uint32_t>(bytes, exports->sh_offset); first && *first != FCGIHOST_ABI_VERSION)
    return abi_mismatch_text(*first);
  if (exports->sh_size % record_size != 0)
    return "its \"fcgihost\" section holds something other than whole export records";
  for (std::uint64_t at = 0; at < exports->sh_size; at += record_size) {
    const auto version = read_at<std::uint32_t>(bytes, exports->sh_offset + at);
    if (version && *version != FCGIHOST_ABI_VERSION) return abi_mismatch_text(*version);
  }
  return std::nullopt;
}

}  // namespace fcgihost::runners
