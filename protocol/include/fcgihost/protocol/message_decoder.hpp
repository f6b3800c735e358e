// Message decoder: turns record fragments into the messages a FastCGI peer acts
// on, for both sides (the host reads requests, the client reads responses).
// One message per put() call, so the I/O loop can deliver each (and wait for
// its consumer) before reading on: that is where backpressure comes from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <variant>
#include <vector>

#include "name_value.hpp"
#include "record.hpp"
#include "record_parser.hpp"

namespace fcgihost::protocol {

struct decoder_limits {
  // Cap on one request's PARAMS stream; nginx sends a few KiB. A pair whose
  // declared lengths pass it is refused as soon as its lengths arrive.
  std::size_t max_params_bytes = 1024 * 1024;
  // Cap on the unfinished PARAMS streams of all requests at once, in units of
  // max_params_bytes.
  std::size_t max_params_streams_in_progress = 4;
};

namespace message {

struct begin_request {
  std::uint16_t request_id;
  std::uint16_t role;  // raw: the host answers unknown roles with FCGI_UNKNOWN_ROLE
  bool keep_conn;
};
struct abort_request {
  std::uint16_t request_id;
};
struct params {  // the complete PARAMS stream of a request
  std::uint16_t request_id;
  name_value_list pairs;
};
struct stream_data {  // STDIN, DATA, STDOUT or STDERR; empty bytes = end of stream
  std::uint16_t request_id;
  record_type stream;
  std::string_view bytes;  // points into the input given to put()
};
struct end_request {
  std::uint16_t request_id;
  std::uint32_t app_status;
  std::uint8_t protocol_status;  // raw, see protocol::protocol_status
};
struct get_values {
  std::vector<std::string> names;
};
struct get_values_result {
  name_value_list pairs;
};
struct unknown_type {  // the peer did not understand a management record we sent
  std::uint8_t type;
};
struct unknown_management_record {  // a management record type we do not know: answer UNKNOWN_TYPE
  std::uint8_t type;
};
struct ignored_record {  // a record with no meaning here (unknown type, PARAMS for no request): skip it
  record_header header;
};

}  // namespace message

using decoded_message =
    std::variant<message::begin_request, message::abort_request, message::params, message::stream_data,
                 message::end_request, message::get_values, message::get_values_result, message::unknown_type,
                 message::unknown_management_record, message::ignored_record>;

class message_decoder {
 public:
  explicit message_decoder(decoder_limits limits = {}) : limits_(limits) {}

  // Consumes input until one message is ready, the input is used up, or an
  // error (then `ec` is set and the connection must be closed). Returns the
  // bytes used. `out` is valid when `ready` is set; a stream_data view stays
  // valid only as long as the input does.
  std::size_t put(std::string_view input, decoded_message& out, bool& ready, std::error_code& ec);

  // Drops a request's unfinished PARAMS stream (the host refused or ended the
  // request), so a peer cannot make the decoder hold params for it.
  void forget(std::uint16_t request_id);
  // New limits apply from the next BEGIN_REQUEST on.
  void set_limits(decoder_limits limits) { limits_ = limits; }

  // True between records: end of input here is a clean close.
  bool at_record_boundary() const noexcept { return records_.at_record_boundary(); }

  // Feeds all of `input`, calling `on_message(decoded_message&)` for each
  // message it completes, for callers that handle messages without waiting
  // (a coroutine that awaits per message loops over put() itself). Stops at
  // the first protocol error, which it returns.
  template <typename OnMessage>
  std::error_code put_all(std::string_view input, OnMessage&& on_message) {
    std::error_code ec;
    while (!input.empty()) {
      decoded_message decoded;
      bool ready = false;
      input.remove_prefix(put(input, decoded, ready, ec));
      if (ec) return ec;
      if (ready) on_message(decoded);
    }
    return ec;
  }

 private:
  bool on_fragment(const record_fragment& fragment, decoded_message& out, std::error_code& ec);
  bool on_params_fragment(const record_fragment& fragment, decoded_message& out, std::error_code& ec);
  bool on_whole_record(const record_header& header, std::string_view content, decoded_message& out,
                       std::error_code& ec);

  decoder_limits limits_;
  record_parser records_;
  std::string record_buffer_;  // a small record's content when it arrives in pieces
  struct params_stream {
    std::string bytes;
    std::size_t next_pair = 0;  // where the first pair whose lengths are unchecked starts
    std::size_t limit = 0;      // max_params_bytes when it began
  };
  // PARAMS streams in progress, by request id (requests may interleave).
  std::unordered_map<std::uint16_t, params_stream> params_in_progress_;
  std::size_t params_bytes_in_progress_ = 0;
};

}  // namespace fcgihost::protocol
