#include <fcgihost/protocol/record.hpp>

namespace fcgihost::protocol {

namespace {
constexpr char byte_of(unsigned value) { return static_cast<char>(value & 0xFFu); }
constexpr unsigned unsigned_of(char byte) { return static_cast<unsigned char>(byte); }
}  // namespace

std::array<char, header_size> encode_header(const record_header& header) {
  return {byte_of(header.version),
          byte_of(header.type),
          byte_of(header.request_id >> 8),
          byte_of(header.request_id),
          byte_of(header.content_length >> 8),
          byte_of(header.content_length),
          byte_of(header.padding_length),
          0};
}

record_header decode_header(const char* bytes) {
  record_header header;
  header.version = static_cast<std::uint8_t>(unsigned_of(bytes[0]));
  header.type = static_cast<std::uint8_t>(unsigned_of(bytes[1]));
  header.request_id = static_cast<std::uint16_t>(unsigned_of(bytes[2]) << 8 | unsigned_of(bytes[3]));
  header.content_length = static_cast<std::uint16_t>(unsigned_of(bytes[4]) << 8 | unsigned_of(bytes[5]));
  header.padding_length = static_cast<std::uint8_t>(unsigned_of(bytes[6]));
  return header;
}

std::string_view type_name(std::uint8_t type) {
  switch (static_cast<record_type>(type)) {
    case record_type::begin_request: return "BEGIN_REQUEST";
    case record_type::abort_request: return "ABORT_REQUEST";
    case record_type::end_request: return "END_REQUEST";
    case record_type::params: return "PARAMS";
    case record_type::std_in: return "STDIN";
    case record_type::std_out: return "STDOUT";
    case record_type::std_err: return "STDERR";
    case record_type::data: return "DATA";
    case record_type::get_values: return "GET_VALUES";
    case record_type::get_values_result: return "GET_VALUES_RESULT";
    case record_type::unknown_type: return "UNKNOWN_TYPE";
  }
  return "unknown record type";
}

std::string_view status_name(std::uint8_t status) {
  switch (static_cast<protocol_status>(status)) {
    case protocol_status::request_complete: return "REQUEST_COMPLETE";
    case protocol_status::cant_mpx_conn: return "CANT_MPX_CONN";
    case protocol_status::overloaded: return "OVERLOADED";
    case protocol_status::unknown_role: return "UNKNOWN_ROLE";
  }
  return "unknown protocol status";
}

}  // namespace fcgihost::protocol
