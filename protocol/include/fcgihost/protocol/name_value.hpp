// Name-value pairs (spec 3.4): each length is 1 byte when < 128, otherwise
// 4 bytes big-endian with the high bit set.
#pragma once

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fcgihost::protocol {

struct name_value {
  std::string name;
  std::string value;

  friend bool operator==(const name_value&, const name_value&) = default;
};

using name_value_list = std::vector<name_value>;

// The largest length a 4-byte encoding can carry.
inline constexpr std::size_t max_name_value_length = 0x7FFFFFFF;

// Appends one encoded pair. Throws std::length_error past max_name_value_length.
void append_name_value(std::string& out, std::string_view name, std::string_view value);

// Decodes a complete stream of pairs. On malformed input sets `ec`
// (error::truncated_name_value) and leaves the pairs decoded so far.
void decode_name_values(std::string_view bytes, name_value_list& pairs, std::error_code& ec);

// Where the pair starting at `pos` ends, by its declared lengths (it may
// end past the bytes there are); false while its lengths have not all
// arrived. Lets a reader refuse a declared length before its bytes come.
bool declared_pair_end(std::string_view bytes, std::size_t pos, std::size_t& end);

// First value for `name`, or nullptr.
const std::string* find_value(const name_value_list& pairs, std::string_view name);

}  // namespace fcgihost::protocol
