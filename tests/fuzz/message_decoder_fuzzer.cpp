// Fuzzes the FastCGI message decoder, the parser every byte from a web server
// or an app goes through. Besides "no crash, no UB" (ASan, UBSan) it checks
// two properties: feeding the input in pieces decodes exactly as feeding it
// whole, and decoded params survive an encode/decode round trip.
#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "../support/transcript.hpp"

using namespace fcgihost;

namespace {

void check_params_round_trip(std::string_view input, protocol::decoder_limits limits) {
  protocol::message_decoder decoder(limits);
  while (!input.empty()) {
    protocol::decoded_message message;
    bool ready = false;
    std::error_code ec;
    input.remove_prefix(decoder.put(input, message, ready, ec));
    if (ec) return;
    auto* params = ready ? std::get_if<protocol::message::params>(&message) : nullptr;
    if (!params) continue;
    std::string encoded;
    protocol::append_begin_request(encoded, params->request_id, protocol::role::responder, true);
    protocol::append_params(encoded, params->request_id, params->pairs);
    const auto again = test::decode_all(encoded, protocol::decoder_limits{});
    test::transcript_writer writer;
    writer.add(message);
    if (again.error || again.lines.size() != 2 || again.lines[1] != writer.take().front()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte picks the piece size, so the fuzzer explores splits too.
  const std::size_t piece = data[0] % 61 + 1;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  protocol::decoder_limits limits;
  limits.max_params_bytes = 4096;  // small, so the cap is reached often

  const auto whole = test::decode_all(input, limits);
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; at < input.size(); at += piece) pieces.push_back(input.substr(at, piece));
  const auto split = test::decode_pieces(pieces, limits);
  if (whole.error != split.error || whole.lines != split.lines || whole.clean_end != split.clean_end) std::abort();

  check_params_round_trip(input, limits);
  return 0;
}
