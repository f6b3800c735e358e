// Reads, from a plugin file's bytes and without loading it, the ABI version
// of every record it exports in its "fcgihost" section (see
// <fcgihost/plugin.h>): a plugin built for another version is refused
// before dlopen() runs any of its code, static constructors included.
// The bytes are outside input: every offset is checked against them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fcgihost::runners {

// Why the file cannot be served by this host's ABI, or nothing.
std::optional<std::string> plugin_abi_problem(std::string_view elf_bytes);

// "built for plugin ABI N, the host speaks M ..." for a record of version N.
std::string abi_mismatch_text(std::uint32_t version);

}  // namespace fcgihost::runners
