// Incremental record parser: bytes in, record fragments out, for any split of
// the input. It does not buffer content: a fragment's bytes point into the
// caller's input, so stream data reaches its consumer without a copy.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <system_error>

#include "record.hpp"

namespace fcgihost::protocol {

// A piece of one record's content. A record with no content yields one empty
// fragment with first and last set (the end-of-stream marker for streams).
struct record_fragment {
  record_header header;
  std::string_view content;  // points into the input given to put()
  bool first = false;        // first fragment of this record
  bool last = false;         // the record's content is complete
};

class record_parser {
 public:
  // Consumes input until one fragment is ready or the input is used up.
  // Returns the bytes used. Sets `ready` when `out` holds a fragment.
  std::size_t put(std::string_view input, record_fragment& out, bool& ready, std::error_code& ec);

  // True between records: the place where a connection may cleanly end.
  bool at_record_boundary() const noexcept { return state_ == state::header && header_have_ == 0; }

 private:
  enum class state { header, content, padding };

  state state_ = state::header;
  std::array<char, header_size> header_bytes_{};
  std::size_t header_have_ = 0;
  record_header header_;
  std::size_t content_left_ = 0;
  std::size_t padding_left_ = 0;
  bool first_fragment_ = true;
};

}  // namespace fcgihost::protocol
