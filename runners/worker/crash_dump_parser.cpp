#include <runners/worker/crash_report.hpp>

#include <charconv>

namespace fcgihost::runners {

namespace {

std::optional<std::uintptr_t> hex(std::string_view text) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  std::uintptr_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "start-end perms offset dev inode   path"
std::optional<crash_dump::mapping> parse_mapping(std::string_view line) {
  crash_dump::mapping entry;
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < line.size() && fields.size() < 5) {
    const auto space = line.find(' ', at);
    const auto end = space == std::string_view::npos ? line.size() : space;
    if (end > at) fields.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  if (fields.size() < 5) return std::nullopt;
  while (at < line.size() && line[at] == ' ') ++at;
  const auto dash = fields[0].find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto start = hex(fields[0].substr(0, dash));
  const auto end = hex(fields[0].substr(dash + 1));
  const auto offset = hex(fields[2]);
  if (!start || !end || !offset || *end <= *start) return std::nullopt;
  entry.start = *start;
  entry.end = *end;
  entry.offset = *offset;
  if (at < line.size()) entry.path = std::string(line.substr(at));
  if (entry.path.ends_with(" (deleted)")) entry.path.resize(entry.path.size() - 10);
  return entry;
}

}  // namespace

crash_dump parse_crash_dump(std::string_view text) {
  crash_dump dump;
  bool in_maps = false;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const auto line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    if (in_maps) {
      if (auto entry = parse_mapping(line); entry && dump.maps.size() < 100'000) dump.maps.push_back(std::move(*entry));
      continue;
    }
    if (line == "maps") {
      in_maps = true;
    } else if (line.starts_with("signal ")) {
      if (const auto value = hex(line.substr(7)); value && *value < 128) dump.signal = static_cast<int>(*value);
    } else if (line.starts_with("address ")) {
      dump.fault_address = hex(line.substr(8));
    } else if (line.starts_with("frame ")) {
      if (const auto value = hex(line.substr(6)); value && dump.frames.size() < 1024) dump.frames.push_back(*value);
    }
  }
  return dump;
}

}  // namespace fcgihost::runners
