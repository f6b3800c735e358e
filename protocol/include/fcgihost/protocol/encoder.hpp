// Record encoder: appends complete, padded records to a byte buffer. Streams
// are cut into records of at most max_stream_chunk bytes; the end of a stream
// is an explicit empty record.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "name_value.hpp"
#include "record.hpp"

namespace fcgihost::protocol {

// One record whose content is at most max_content_length bytes, padded to 8.
void append_record(std::string& out, record_type type, std::uint16_t request_id, std::string_view content);
// Same, with a raw type number (tests and clients probing a peer with unknown types).
void append_record(std::string& out, std::uint8_t type, std::uint16_t request_id, std::string_view content);

// Stream data (STDIN, STDOUT, STDERR, DATA, PARAMS) cut into records; nothing for empty data.
void append_stream(std::string& out, record_type type, std::uint16_t request_id, std::string_view data);
void append_stream_end(std::string& out, record_type type, std::uint16_t request_id);

void append_begin_request(std::string& out, std::uint16_t request_id, role role, bool keep_conn);
// Same, with a raw role number: a client may ask for roles the spec does not define.
void append_begin_request(std::string& out, std::uint16_t request_id, std::uint16_t role, bool keep_conn);
void append_abort_request(std::string& out, std::uint16_t request_id);
void append_end_request(std::string& out, std::uint16_t request_id, std::uint32_t app_status,
                        protocol_status status);

// The whole PARAMS stream of a request, end marker included.
void append_params(std::string& out, std::uint16_t request_id, std::span<const name_value> params);

void append_get_values(std::string& out, std::span<const std::string> names);
void append_get_values_result(std::string& out, std::span<const name_value> values);
void append_unknown_type(std::string& out, std::uint8_t type);

}  // namespace fcgihost::protocol
