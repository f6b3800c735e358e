// Cutting stream data into records without copying it: for each record, the
// caller gets the encoded header, its slice of the data and the padding
// length, and gathers them into one write. The encoder, the client and the
// host all cut streams this way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "record.hpp"

namespace fcgihost::protocol {

// How many records frame_stream() makes for `size` bytes (none for none).
constexpr std::size_t stream_record_count(std::size_t size) {
  return (size + max_stream_chunk - 1) / max_stream_chunk;
}

// Calls each(header, slice, padding) for every record of `data`, in order.
template <typename Each>
void frame_stream(record_type type, std::uint16_t request_id, std::string_view data, Each&& each) {
  while (!data.empty()) {
    const std::string_view slice = data.substr(0, max_stream_chunk);
    const std::uint8_t padding = padding_for(slice.size());
    each(encode_header({version_1, static_cast<std::uint8_t>(type), request_id,
                        static_cast<std::uint16_t>(slice.size()), padding}),
         slice, padding);
    data.remove_prefix(slice.size());
  }
}

// Stream data framed for one gathered write: header, slice and padding of
// each record as views, in order. The data is not copied, so it must outlive
// this object; the headers live inside it.
class gathered_records {
 public:
  gathered_records(record_type type, std::uint16_t request_id, std::string_view data) {
    headers_.reserve(stream_record_count(data.size()));  // never moves: pieces point into it
    frame_stream(type, request_id, data, [&](const auto& header, std::string_view slice, std::uint8_t padding) {
      headers_.push_back(header);
      pieces_.emplace_back(headers_.back().data(), headers_.back().size());
      pieces_.push_back(slice);
      if (padding > 0) pieces_.emplace_back(zero_padding.data(), padding);
    });
  }
  gathered_records(const gathered_records&) = delete;
  gathered_records& operator=(const gathered_records&) = delete;

  const std::vector<std::string_view>& pieces() const { return pieces_; }

 private:
  std::vector<std::array<char, header_size>> headers_;
  std::vector<std::string_view> pieces_;
};

}  // namespace fcgihost::protocol
