// FastCGI 1.0 record layer: constants and the 8-byte header, as in the spec's
// section 3 and 8. Big-endian fields are read and written byte by byte (as h2o
// and nginx do), never by casting packed structs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fcgihost::protocol {

inline constexpr std::uint8_t version_1 = 1;
inline constexpr std::size_t header_size = 8;
inline constexpr std::size_t max_content_length = 65535;
// Streams are cut at the largest multiple of 8 that fits a record, so big
// payloads need no padding and every record stays 8-byte aligned.
inline constexpr std::size_t max_stream_chunk = 65528;
inline constexpr std::uint16_t null_request_id = 0;
inline constexpr std::uint8_t keep_conn_flag = 1;

enum class record_type : std::uint8_t {
  begin_request = 1,
  abort_request = 2,
  end_request = 3,
  params = 4,
  std_in = 5,   // FCGI_STDIN (stdin/stdout/stderr are macros in <cstdio>)
  std_out = 6,
  std_err = 7,
  data = 8,
  get_values = 9,
  get_values_result = 10,
  unknown_type = 11,
};
inline constexpr std::uint8_t max_known_record_type = 11;

enum class role : std::uint16_t { responder = 1, authorizer = 2, filter = 3 };

enum class protocol_status : std::uint8_t {
  request_complete = 0,
  cant_mpx_conn = 1,
  overloaded = 2,
  unknown_role = 3,
};

// Names a GET_VALUES query may ask for (spec 4.1).
inline constexpr std::string_view max_conns_name = "FCGI_MAX_CONNS";
inline constexpr std::string_view max_reqs_name = "FCGI_MAX_REQS";
inline constexpr std::string_view mpxs_conns_name = "FCGI_MPXS_CONNS";

struct record_header {
  std::uint8_t version = version_1;
  std::uint8_t type = 0;  // raw: unknown types must survive decoding
  std::uint16_t request_id = 0;
  std::uint16_t content_length = 0;
  std::uint8_t padding_length = 0;

  friend bool operator==(const record_header&, const record_header&) = default;
};

// Padding that brings a record's content to a multiple of 8 bytes.
constexpr std::uint8_t padding_for(std::size_t content_length) {
  return static_cast<std::uint8_t>((8 - content_length % 8) % 8);
}

// Zero bytes to gather as padding after a record's content.
inline constexpr std::array<char, 8> zero_padding{};

std::array<char, header_size> encode_header(const record_header& header);
record_header decode_header(const char* bytes);  // reads exactly header_size bytes

// Management records carry request id 0; application records a non-zero id.
constexpr bool is_management_type(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(record_type::get_values) ||
         type == static_cast<std::uint8_t>(record_type::get_values_result) ||
         type == static_cast<std::uint8_t>(record_type::unknown_type);
}

constexpr bool is_known_type(std::uint8_t type) { return type >= 1 && type <= max_known_record_type; }

// Human-readable names, for logs and error messages.
std::string_view type_name(std::uint8_t type);
std::string_view status_name(std::uint8_t protocol_status);

}  // namespace fcgihost::protocol
