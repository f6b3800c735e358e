#include <fcgihost/protocol/encoder.hpp>

#include <fcgihost/protocol/stream_framing.hpp>

#include <algorithm>
#include <stdexcept>

namespace fcgihost::protocol {

namespace {

void append_header(std::string& out, std::uint8_t type, std::uint16_t request_id, std::size_t content_length) {
  const auto header = encode_header({version_1, type, request_id, static_cast<std::uint16_t>(content_length),
                                     padding_for(content_length)});
  out.append(header.data(), header.size());
}

std::string body_of_eight(std::initializer_list<unsigned> bytes) {
  std::string body(8, '\0');
  std::size_t i = 0;
  for (unsigned b : bytes) body[i++] = static_cast<char>(b & 0xFF);
  return body;
}

}  // namespace

void append_record(std::string& out, std::uint8_t type, std::uint16_t request_id, std::string_view content) {
  if (content.size() > max_content_length) throw std::length_error("FastCGI record content over 65535 bytes");
  append_header(out, type, request_id, content.size());
  out.append(content);
  out.append(zero_padding.data(), padding_for(content.size()));
}

void append_record(std::string& out, record_type type, std::uint16_t request_id, std::string_view content) {
  append_record(out, static_cast<std::uint8_t>(type), request_id, content);
}

void append_stream(std::string& out, record_type type, std::uint16_t request_id, std::string_view data) {
  frame_stream(type, request_id, data, [&](const auto& header, std::string_view slice, std::uint8_t padding) {
    out.append(header.data(), header.size());
    out.append(slice);
    out.append(zero_padding.data(), padding);
  });
}

void append_stream_end(std::string& out, record_type type, std::uint16_t request_id) {
  append_record(out, type, request_id, {});
}

void append_begin_request(std::string& out, std::uint16_t request_id, role role, bool keep_conn) {
  append_begin_request(out, request_id, static_cast<std::uint16_t>(role), keep_conn);
}

void append_begin_request(std::string& out, std::uint16_t request_id, std::uint16_t role, bool keep_conn) {
  append_record(out, record_type::begin_request, request_id,
                body_of_eight({unsigned{role} >> 8, role, keep_conn ? keep_conn_flag : 0u}));
}

void append_abort_request(std::string& out, std::uint16_t request_id) {
  append_record(out, record_type::abort_request, request_id, {});
}

void append_end_request(std::string& out, std::uint16_t request_id, std::uint32_t app_status,
                        protocol_status status) {
  append_record(out, record_type::end_request, request_id,
                body_of_eight({app_status >> 24, app_status >> 16, app_status >> 8, app_status,
                               static_cast<unsigned>(status)}));
}

void append_params(std::string& out, std::uint16_t request_id, std::span<const name_value> params) {
  std::string encoded;
  for (const auto& pair : params) append_name_value(encoded, pair.name, pair.value);
  append_stream(out, record_type::params, request_id, encoded);
  append_stream_end(out, record_type::params, request_id);
}

void append_get_values(std::string& out, std::span<const std::string> names) {
  std::string encoded;
  for (const auto& name : names) append_name_value(encoded, name, {});
  append_record(out, record_type::get_values, null_request_id, encoded);
}

void append_get_values_result(std::string& out, std::span<const name_value> values) {
  std::string encoded;
  for (const auto& pair : values) append_name_value(encoded, pair.name, pair.value);
  append_record(out, record_type::get_values_result, null_request_id, encoded);
}

void append_unknown_type(std::string& out, std::uint8_t type) {
  append_record(out, record_type::unknown_type, null_request_id, body_of_eight({type}));
}

}  // namespace fcgihost::protocol
