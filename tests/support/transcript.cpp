#include "transcript.hpp"

#include <type_traits>

namespace fcgihost::test {

using namespace protocol;

namespace {
std::string pairs_text(const name_value_list& pairs) {
  std::string text;
  for (const auto& pair : pairs) text += " " + pair.name + "=" + pair.value;
  return text;
}
}  // namespace

void transcript_writer::add(const decoded_message& decoded) {
  std::visit(
      [&](const auto& m) {
        using type = std::decay_t<decltype(m)>;
        const bool is_data = std::is_same_v<type, message::stream_data>;
        if constexpr (std::is_same_v<type, message::stream_data>) {
          const std::string name(type_name(static_cast<std::uint8_t>(m.stream)));
          if (m.bytes.empty()) {
            lines_.push_back(name + " " + std::to_string(m.request_id) + " end");
          } else if (last_was_data_ && last_id_ == m.request_id && last_stream_ == m.stream) {
            lines_.back().append(m.bytes);
          } else {
            lines_.push_back(name + " " + std::to_string(m.request_id) + " data ");
            lines_.back().append(m.bytes);
          }
          last_id_ = m.request_id;
          last_stream_ = m.stream;
          last_was_data_ = !m.bytes.empty();
        } else if constexpr (std::is_same_v<type, message::begin_request>) {
          lines_.push_back("BEGIN_REQUEST " + std::to_string(m.request_id) + " role " + std::to_string(m.role) +
                           (m.keep_conn ? " keep" : " close"));
        } else if constexpr (std::is_same_v<type, message::abort_request>) {
          lines_.push_back("ABORT_REQUEST " + std::to_string(m.request_id));
        } else if constexpr (std::is_same_v<type, message::params>) {
          lines_.push_back("PARAMS " + std::to_string(m.request_id) + pairs_text(m.pairs));
        } else if constexpr (std::is_same_v<type, message::end_request>) {
          lines_.push_back("END_REQUEST " + std::to_string(m.request_id) + " app " + std::to_string(m.app_status) +
                           " protocol " + std::to_string(m.protocol_status));
        } else if constexpr (std::is_same_v<type, message::get_values>) {
          std::string line = "GET_VALUES";
          for (const auto& name : m.names) line += " " + name;
          lines_.push_back(line);
        } else if constexpr (std::is_same_v<type, message::get_values_result>) {
          lines_.push_back("GET_VALUES_RESULT" + pairs_text(m.pairs));
        } else if constexpr (std::is_same_v<type, message::unknown_type>) {
          lines_.push_back("UNKNOWN_TYPE " + std::to_string(m.type));
        } else if constexpr (std::is_same_v<type, message::unknown_management_record>) {
          lines_.push_back("unknown management record " + std::to_string(m.type));
        } else if constexpr (std::is_same_v<type, message::ignored_record>) {
          lines_.push_back("ignored type " + std::to_string(m.header.type) + " id " +
                           std::to_string(m.header.request_id));
        }
        if (!is_data) last_was_data_ = false;
      },
      decoded);
}

decode_result decode_pieces(const std::vector<std::string_view>& pieces, decoder_limits limits) {
  message_decoder decoder(limits);
  transcript_writer writer;
  decode_result result;
  for (std::string_view piece : pieces) {
    while (!piece.empty() && !result.error) {
      decoded_message message;
      bool ready = false;
      const std::size_t used = decoder.put(piece, message, ready, result.error);
      if (ready) writer.add(message);
      piece.remove_prefix(used);
    }
    if (result.error) break;
  }
  result.lines = writer.take();
  result.clean_end = !result.error && decoder.at_record_boundary();
  return result;
}

}  // namespace fcgihost::test
