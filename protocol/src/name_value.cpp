#include <fcgihost/protocol/name_value.hpp>

#include <cstdint>
#include <stdexcept>

#include <fcgihost/protocol/error.hpp>

namespace fcgihost::protocol {

namespace {

void append_length(std::string& out, std::size_t length) {
  if (length < 128) {
    out.push_back(static_cast<char>(length));
    return;
  }
  if (length > max_name_value_length) throw std::length_error("FastCGI name or value longer than 2^31-1 bytes");
  out.push_back(static_cast<char>(0x80 | (length >> 24)));
  out.push_back(static_cast<char>((length >> 16) & 0xFF));
  out.push_back(static_cast<char>((length >> 8) & 0xFF));
  out.push_back(static_cast<char>(length & 0xFF));
}

// Reads one length at `pos`; false when the bytes run out first.
bool read_length(std::string_view bytes, std::size_t& pos, std::size_t& length) {
  if (pos >= bytes.size()) return false;
  const auto first = static_cast<unsigned char>(bytes[pos]);
  if ((first & 0x80) == 0) {
    length = first;
    pos += 1;
    return true;
  }
  if (bytes.size() - pos < 4) return false;
  length = (std::size_t{first & 0x7Fu} << 24) | (std::size_t{static_cast<unsigned char>(bytes[pos + 1])} << 16) |
           (std::size_t{static_cast<unsigned char>(bytes[pos + 2])} << 8) |
           std::size_t{static_cast<unsigned char>(bytes[pos + 3])};
  pos += 4;
  return true;
}

}  // namespace

void append_name_value(std::string& out, std::string_view name, std::string_view value) {
  append_length(out, name.size());
  append_length(out, value.size());
  out.append(name);
  out.append(value);
}

void decode_name_values(std::string_view bytes, name_value_list& pairs, std::error_code& ec) {
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    std::size_t name_length = 0;
    std::size_t value_length = 0;
    if (!read_length(bytes, pos, name_length) || !read_length(bytes, pos, value_length)) {
      ec = error::truncated_name_value;
      return;
    }
    // Both lengths are below 2^31, so the sum cannot overflow a 64-bit size_t.
    if (name_length + value_length > bytes.size() - pos) {
      ec = error::truncated_name_value;
      return;
    }
    pairs.push_back({std::string(bytes.substr(pos, name_length)),
                     std::string(bytes.substr(pos + name_length, value_length))});
    pos += name_length + value_length;
  }
}

bool declared_pair_end(std::string_view bytes, std::size_t pos, std::size_t& end) {
  std::size_t name_length = 0;
  std::size_t value_length = 0;
  if (!read_length(bytes, pos, name_length) || !read_length(bytes, pos, value_length)) return false;
  end = pos + name_length + value_length;  // below 2^33: no overflow
  return true;
}

const std::string* find_value(const name_value_list& pairs, std::string_view name) {
  for (const auto& pair : pairs)
    if (pair.name == name) return &pair.value;
  return nullptr;
}

}  // namespace fcgihost::protocol
