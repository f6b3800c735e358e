// Runs the message decoder over input cut into given pieces and writes what it
// decoded as text, so different splits of one stream can be compared.
#pragma once

#include <fcgihost/protocol/message_decoder.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fcgihost::test {

struct decode_result {
  std::vector<std::string> lines;
  std::error_code error;
  bool clean_end = false;  // input ended between records
};

class transcript_writer {
 public:
  void add(const protocol::decoded_message& message);
  std::vector<std::string> take() { return std::move(lines_); }

 private:
  std::vector<std::string> lines_;
  // Stream data is joined while it continues the same stream, so a record cut
  // into fragments reads the same as a whole one.
  bool last_was_data_ = false;
  std::uint16_t last_id_ = 0;
  protocol::record_type last_stream_{};
};

decode_result decode_pieces(const std::vector<std::string_view>& pieces, protocol::decoder_limits limits = {});

inline decode_result decode_all(std::string_view input, protocol::decoder_limits limits = {}) {
  return decode_pieces({input}, limits);
}

}  // namespace fcgihost::test
