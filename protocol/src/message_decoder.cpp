#include <fcgihost/protocol/message_decoder.hpp>

#include <fcgihost/protocol/error.hpp>

namespace fcgihost::protocol {

namespace {

bool is_stream_type(std::uint8_t type) {
  switch (static_cast<record_type>(type)) {
    case record_type::std_in:
    case record_type::std_out:
    case record_type::std_err:
    case record_type::data: return true;
    default: return false;
  }
}

std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
}

// Known types must carry the right kind of id; unknown types are judged later.
bool request_id_fits_type(const record_header& header) {
  if (!is_known_type(header.type)) return true;
  return is_management_type(header.type) == (header.request_id == null_request_id);
}

}  // namespace

std::size_t message_decoder::put(std::string_view input, decoded_message& out, bool& ready, std::error_code& ec) {
  ready = false;
  std::size_t used = 0;
  while (true) {
    record_fragment fragment;
    bool have_fragment = false;
    used += records_.put(input.substr(used), fragment, have_fragment, ec);
    if (ec || !have_fragment) return used;
    if (on_fragment(fragment, out, ec)) {
      ready = true;
      return used;
    }
    if (ec) return used;
  }
}

bool message_decoder::on_fragment(const record_fragment& fragment, decoded_message& out, std::error_code& ec) {
  const record_header& header = fragment.header;
  if (fragment.first && !request_id_fits_type(header)) {
    ec = error::bad_request_id;
    return false;
  }
  if (is_stream_type(header.type)) {
    out = message::stream_data{header.request_id, static_cast<record_type>(header.type), fragment.content};
    return true;
  }
  if (header.type == static_cast<std::uint8_t>(record_type::params)) return on_params_fragment(fragment, out, ec);

  if (!is_known_type(header.type)) {
    // Skip the content; report once per record, when it starts.
    if (!fragment.first) return false;
    if (header.request_id == null_request_id)
      out = message::unknown_management_record{header.type};
    else
      out = message::ignored_record{header};
    return true;
  }

  // A small fixed-layout record: decode once its content is complete.
  if (fragment.first && fragment.last) return on_whole_record(header, fragment.content, out, ec);
  if (fragment.first) record_buffer_.clear();
  record_buffer_.append(fragment.content);
  if (!fragment.last) return false;
  return on_whole_record(header, record_buffer_, out, ec);
}

void message_decoder::forget(std::uint16_t request_id) {
  const auto found = params_in_progress_.find(request_id);
  if (found == params_in_progress_.end()) return;
  params_bytes_in_progress_ -= found->second.bytes.size();
  params_in_progress_.erase(found);
}

bool message_decoder::on_params_fragment(const record_fragment& fragment, decoded_message& out,
                                         std::error_code& ec) {
  const std::uint16_t id = fragment.header.request_id;
  const auto found = params_in_progress_.find(id);
  if (found == params_in_progress_.end()) {
    // PARAMS for a request that never began, or after its params ended.
    if (!fragment.first) return false;
    out = message::ignored_record{fragment.header};
    return true;
  }
  params_stream& stream = found->second;
  if (fragment.content.size() > stream.limit - stream.bytes.size()) {
    ec = error::params_too_large;
    return false;
  }
  if (!fragment.content.empty()) {
    if (params_bytes_in_progress_ + fragment.content.size() >
        limits_.max_params_bytes * limits_.max_params_streams_in_progress) {
      ec = error::params_in_progress_too_large;
      return false;
    }
    stream.bytes.append(fragment.content);
    params_bytes_in_progress_ += fragment.content.size();
    // Each pair's declared lengths are checked as soon as they arrive.
    std::size_t end = 0;
    while (declared_pair_end(stream.bytes, stream.next_pair, end)) {
      if (end > stream.limit) {
        ec = error::declared_params_too_large;
        return false;
      }
      if (end > stream.bytes.size()) break;  // its bytes are still coming
      stream.next_pair = end;
    }
    return false;
  }
  // An empty record ends the stream.
  message::params done{id, {}};
  decode_name_values(stream.bytes, done.pairs, ec);
  forget(id);
  if (ec) return false;
  out = std::move(done);
  return true;
}

bool message_decoder::on_whole_record(const record_header& header, std::string_view content, decoded_message& out,
                                      std::error_code& ec) {
  switch (static_cast<record_type>(header.type)) {
    case record_type::begin_request: {
      if (content.size() != 8) break;
      const auto role = static_cast<std::uint16_t>(static_cast<unsigned char>(content[0]) << 8 |
                                                   static_cast<unsigned char>(content[1]));
      const bool keep_conn = (static_cast<unsigned char>(content[2]) & keep_conn_flag) != 0;
      // A fresh BEGIN_REQUEST starts the id's PARAMS over, so ids can be reused.
      forget(header.request_id);
      params_in_progress_[header.request_id].limit = limits_.max_params_bytes;
      out = message::begin_request{header.request_id, role, keep_conn};
      return true;
    }
    case record_type::abort_request:
      // The spec gives ABORT_REQUEST no body; tolerate one, as libfcgi does.
      forget(header.request_id);
      out = message::abort_request{header.request_id};
      return true;
    case record_type::end_request: {
      if (content.size() != 8) break;
      out = message::end_request{header.request_id, read_u32(content, 0), static_cast<std::uint8_t>(content[4])};
      return true;
    }
    case record_type::get_values: {
      name_value_list pairs;
      decode_name_values(content, pairs, ec);
      if (ec) return false;
      message::get_values query;
      query.names.reserve(pairs.size());
      for (auto& pair : pairs) query.names.push_back(std::move(pair.name));
      out = std::move(query);
      return true;
    }
    case record_type::get_values_result: {
      message::get_values_result result;
      decode_name_values(content, result.pairs, ec);
      if (ec) return false;
      out = std::move(result);
      return true;
    }
    case record_type::unknown_type: {
      if (content.size() != 8) break;
      out = message::unknown_type{static_cast<std::uint8_t>(content[0])};
      return true;
    }
    default: return false;  // streams and PARAMS never reach here
  }
  ec = error::bad_record_length;
  return false;
}

}  // namespace fcgihost::protocol
