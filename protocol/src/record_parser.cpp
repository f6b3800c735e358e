#include <fcgihost/protocol/record_parser.hpp>

#include <algorithm>
#include <cstring>

#include <fcgihost/protocol/error.hpp>

namespace fcgihost::protocol {

std::size_t record_parser::put(std::string_view input, record_fragment& out, bool& ready, std::error_code& ec) {
  ready = false;
  std::size_t used = 0;
  while (true) {
    const std::size_t available = input.size() - used;
    switch (state_) {
      case state::header: {
        const std::size_t take = std::min(header_size - header_have_, available);
        std::memcpy(header_bytes_.data() + header_have_, input.data() + used, take);
        header_have_ += take;
        used += take;
        if (header_have_ < header_size) return used;
        header_have_ = 0;
        header_ = decode_header(header_bytes_.data());
        if (header_.version != version_1) {
          ec = error::unsupported_version;
          return used;
        }
        content_left_ = header_.content_length;
        padding_left_ = header_.padding_length;
        first_fragment_ = true;
        if (content_left_ == 0) {
          state_ = padding_left_ > 0 ? state::padding : state::header;
          out = {header_, {}, true, true};
          ready = true;
          return used;
        }
        state_ = state::content;
        break;
      }
      case state::content: {
        const std::size_t take = std::min(content_left_, available);
        if (take == 0) return used;
        out = {header_, input.substr(used, take), first_fragment_, take == content_left_};
        ready = true;
        first_fragment_ = false;
        content_left_ -= take;
        used += take;
        if (content_left_ == 0) state_ = padding_left_ > 0 ? state::padding : state::header;
        return used;
      }
      case state::padding: {
        const std::size_t take = std::min(padding_left_, available);
        padding_left_ -= take;
        used += take;
        if (padding_left_ > 0) return used;
        state_ = state::header;
        break;
      }
    }
  }
}

}  // namespace fcgihost::protocol
