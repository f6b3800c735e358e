// Expected failures of the FastCGI codec, as an error_code enum (the pattern of
// Boost.Beast's http/error.hpp). Every one of these closes the connection that
// produced it; none is a crash or an exception.
#pragma once

#include <system_error>

namespace fcgihost::protocol {

enum class error {
  unsupported_version = 1,  // header version is not FCGI_VERSION_1
  bad_request_id,           // application record with id 0, or management record with an id
  bad_record_length,        // fixed-size body (BEGIN_REQUEST, END_REQUEST, UNKNOWN_TYPE) of the wrong size
  truncated_name_value,     // a name-value length runs past the end of its stream
  params_too_large,         // a request's PARAMS stream exceeds the configured cap
  declared_params_too_large,  // a name-value pair declares more bytes than the PARAMS cap allows
  params_in_progress_too_large,  // unfinished PARAMS streams of one connection exceed their cap
  truncated_record,         // the byte stream ended in the middle of a record
  name_value_too_long,      // a name or value longer than 2^31-1 bytes cannot be encoded
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(error e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace fcgihost::protocol

template <>
struct std::is_error_code_enum<fcgihost::protocol::error> : std::true_type {};
