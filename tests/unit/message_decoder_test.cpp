// The decoder fed whole, byte by byte and split at every offset gives the same
// messages; every malformed case is an error code.
#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/error.hpp>
#include <fcgihost/protocol/message_decoder.hpp>

#include <gtest/gtest.h>

#include "../support/hex.hpp"
#include "../support/transcript.hpp"

namespace fcgihost::protocol {
namespace {

using test::decode_all;
using test::decode_pieces;
using test::hex;

// Every record type, two interleaved requests, padding, a 4-byte length and a
// record cut by the writer in an odd place.
std::string mixed_stream() {
  std::string out;
  append_begin_request(out, 1, role::responder, true);
  append_get_values(out, std::vector<std::string>{"FCGI_MAX_CONNS", "FCGI_MPXS_CONNS"});
  append_begin_request(out, 2, role::filter, false);
  std::string params_1;
  append_name_value(params_1, "SCRIPT_FILENAME", "hello.greet");
  append_name_value(params_1, "HTTP_COOKIE", std::string(300, 'c'));  // 4-byte length
  // PARAMS cut across two records, mid-pair, interleaved with request 2's.
  append_record(out, record_type::params, 1, std::string_view(params_1).substr(0, 20));
  append_params(out, 2, name_value_list{{"QUERY_STRING", "a=1"}});
  append_record(out, record_type::params, 1, std::string_view(params_1).substr(20));
  append_stream_end(out, record_type::params, 1);
  append_stream(out, record_type::std_in, 1, "first body part ");
  append_stream(out, record_type::data, 2, "filter data");
  append_record(out, std::uint8_t{99}, 0, "mgmt");       // unknown management type
  append_record(out, std::uint8_t{42}, 1, "whatever");   // unknown type on a request
  append_stream(out, record_type::std_in, 1, std::string(1000, 'b'));
  append_abort_request(out, 2);
  append_stream_end(out, record_type::std_in, 1);
  append_record(out, record_type::params, 7, "stray");    // PARAMS for no request
  append_stream(out, record_type::std_out, 1, "Status: 200 OK\r\n\r\nhi");
  append_stream(out, record_type::std_err, 1, "warning");
  append_stream_end(out, record_type::std_out, 1);
  append_end_request(out, 1, 3, protocol_status::request_complete);
  append_get_values_result(out, name_value_list{{"FCGI_MPXS_CONNS", "1"}});
  append_unknown_type(out, 99);
  return out;
}

const std::vector<std::string>& expected_mixed_transcript() {
  static const std::vector<std::string> lines{
      "BEGIN_REQUEST 1 role 1 keep",
      "GET_VALUES FCGI_MAX_CONNS FCGI_MPXS_CONNS",
      "BEGIN_REQUEST 2 role 3 close",
      "PARAMS 2 QUERY_STRING=a=1",
      "PARAMS 1 SCRIPT_FILENAME=hello.greet HTTP_COOKIE=" + std::string(300, 'c'),
      "STDIN 1 data first body part ",
      "DATA 2 data filter data",
      "unknown management record 99",
      "ignored type 42 id 1",
      "STDIN 1 data " + std::string(1000, 'b'),
      "ABORT_REQUEST 2",
      "STDIN 1 end",
      "ignored type 4 id 7",
      "STDOUT 1 data Status: 200 OK\r\n\r\nhi",
      "STDERR 1 data warning",
      "STDOUT 1 end",
      "END_REQUEST 1 app 3 protocol 0",
      "GET_VALUES_RESULT FCGI_MPXS_CONNS=1",
      "UNKNOWN_TYPE 99",
  };
  return lines;
}

TEST(MessageDecoder, DecodesEveryRecordTypeWhole) {
  const auto result = decode_all(mixed_stream());
  ASSERT_FALSE(result.error) << result.error.message();
  EXPECT_TRUE(result.clean_end);
  EXPECT_EQ(result.lines, expected_mixed_transcript());
}

TEST(MessageDecoder, ByteByByteGivesTheSameMessages) {
  const std::string input = mixed_stream();
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < input.size(); ++i) pieces.push_back(std::string_view(input).substr(i, 1));
  const auto result = decode_pieces(pieces);
  ASSERT_FALSE(result.error) << result.error.message();
  EXPECT_TRUE(result.clean_end);
  EXPECT_EQ(result.lines, expected_mixed_transcript());
}

TEST(MessageDecoder, EverySplitPointGivesTheSameMessages) {
  const std::string input = mixed_stream();
  const std::string_view view(input);
  for (std::size_t split = 0; split <= input.size(); ++split) {
    const auto result = decode_pieces({view.substr(0, split), view.substr(split)});
    ASSERT_FALSE(result.error) << "split at " << split << ": " << result.error.message();
    ASSERT_TRUE(result.clean_end) << "split at " << split;
    ASSERT_EQ(result.lines, expected_mixed_transcript()) << "split at " << split;
  }
}

TEST(MessageDecoder, LargeStdinArrivesWholeAcrossRecords) {
  std::string input;
  std::string body(200000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  append_stream(input, record_type::std_in, 9, body);
  append_stream_end(input, record_type::std_in, 9);
  // Uneven pieces of a prime size cross every kind of boundary.
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; at < input.size(); at += 8191) pieces.push_back(std::string_view(input).substr(at, 8191));
  const auto result = decode_pieces(pieces);
  ASSERT_FALSE(result.error);
  ASSERT_EQ(result.lines.size(), 2u);
  EXPECT_EQ(result.lines[0], "STDIN 9 data " + body);
  EXPECT_EQ(result.lines[1], "STDIN 9 end");
}

TEST(MessageDecoder, StreamFragmentsPointIntoTheInput) {
  std::string input;
  append_stream(input, record_type::std_in, 1, "zero-copy");
  message_decoder decoder;
  decoded_message message;
  bool ready = false;
  std::error_code ec;
  decoder.put(input, message, ready, ec);
  ASSERT_TRUE(ready);
  const auto& data = std::get<message::stream_data>(message);
  EXPECT_EQ(data.bytes.data(), input.data() + header_size);
}

TEST(MessageDecoder, WrongVersionIsAnError) {
  const auto result = decode_all(hex("02 01 00 01 00 08 00 00  00 01 01 00 00 00 00 00"));
  EXPECT_EQ(result.error, error::unsupported_version);
}

TEST(MessageDecoder, ApplicationRecordWithNullIdIsAnError) {
  const auto result = decode_all(hex("01 01 00 00 00 08 00 00  00 01 01 00 00 00 00 00"));
  EXPECT_EQ(result.error, error::bad_request_id);
}

TEST(MessageDecoder, ManagementRecordWithRequestIdIsAnError) {
  const auto result = decode_all(hex("01 09 00 05 00 00 00 00"));
  EXPECT_EQ(result.error, error::bad_request_id);
}

TEST(MessageDecoder, BeginRequestWithShortBodyIsAnError) {
  const auto result = decode_all(hex("01 01 00 01 00 07 01 00  00 01 01 00 00 00 00 00"));
  EXPECT_EQ(result.error, error::bad_record_length);
}

TEST(MessageDecoder, EndRequestWithLongBodyIsAnError) {
  const auto result = decode_all(hex("01 03 00 01 00 09 07 00  00 00 00 00 00 00 00 00 00  00 00 00 00 00 00 00"));
  EXPECT_EQ(result.error, error::bad_record_length);
}

std::string begin_and_params(std::string_view params_content) {
  std::string out;
  append_begin_request(out, 1, role::responder, true);
  append_stream(out, record_type::params, 1, params_content);
  append_stream_end(out, record_type::params, 1);
  return out;
}

TEST(MessageDecoder, NameValueLengthPastTheStreamIsAnError) {
  // Name of 5 bytes, value of 1: only 2 bytes follow.
  const auto result = decode_all(begin_and_params(hex("05 01 'ab'")));
  EXPECT_EQ(result.error, error::truncated_name_value);
}

TEST(MessageDecoder, FourByteLengthNearTwoToThe31IsAnErrorNotAnOverflow) {
  // High bit set, 31-bit length 0x7fffffff, then a value length of the same.
  const auto result = decode_all(begin_and_params(hex("ff ff ff ff ff ff ff ff 'x'")));
  EXPECT_EQ(result.error, error::declared_params_too_large);
}

TEST(MessageDecoder, ADeclaredLengthOverTheCapIsRefusedBeforeItsBytesArrive) {
  // An 83 MB name declared in the first PARAMS record; its bytes never come.
  std::string stream;
  append_begin_request(stream, 1, role::responder, true);
  append_record(stream, record_type::params, 1, hex("85 00 00 00 05") + "abc");
  const auto result = decode_all(stream);
  EXPECT_EQ(result.error, error::declared_params_too_large);
  // A pair that fits is waited for.
  std::string fits;
  append_begin_request(fits, 1, role::responder, true);
  append_record(fits, record_type::params, 1, hex("80 00 01 00 05") + "abc");  // 256 + 5 bytes
  EXPECT_FALSE(decode_all(fits).error);
}

TEST(MessageDecoder, UnfinishedParamsOfManyRequestsHaveACapToo) {
  decoder_limits limits;
  limits.max_params_bytes = 1000;
  std::string stream;
  std::string pair;
  append_name_value(pair, "N", std::string(900, 'v'));
  for (std::uint16_t id = 1; id <= 4; ++id) {
    append_begin_request(stream, id, role::responder, true);
    append_record(stream, record_type::params, id, pair);  // never ended
  }
  EXPECT_FALSE(decode_all(stream, limits).error) << "four streams fit in four times the cap";
  append_begin_request(stream, 5, role::responder, true);
  append_record(stream, record_type::params, 5, pair);
  EXPECT_EQ(decode_all(stream, limits).error, error::params_in_progress_too_large);
}

TEST(MessageDecoder, FourByteLengthCutShortIsAnError) {
  const auto result = decode_all(begin_and_params(hex("80 00")));
  EXPECT_EQ(result.error, error::truncated_name_value);
}

TEST(MessageDecoder, ParamsAtTheCapPassAndOneByteMoreIsAnError) {
  std::string pairs;
  append_name_value(pairs, "N", std::string(94, 'v'));  // 1 + 1 + 1 + 94 = 97 bytes
  pairs += hex("01 00 'M'");                              // 3 more: exactly 100
  ASSERT_EQ(pairs.size(), 100u);
  decoder_limits limits;
  limits.max_params_bytes = 100;
  const auto at_cap = decode_all(begin_and_params(pairs), limits);
  ASSERT_FALSE(at_cap.error) << at_cap.error.message();
  EXPECT_EQ(at_cap.lines.back(), "PARAMS 1 N=" + std::string(94, 'v') + " M=");

  limits.max_params_bytes = 99;
  const auto over = decode_all(begin_and_params(pairs), limits);
  EXPECT_EQ(over.error, error::params_too_large);
}

TEST(MessageDecoder, ForgottenRequestNoLongerCollectsParams) {
  std::string input;
  append_begin_request(input, 4, role::responder, true);
  message_decoder decoder;
  decoded_message message;
  bool ready = false;
  std::error_code ec;
  decoder.put(input, message, ready, ec);
  ASSERT_TRUE(ready);
  decoder.forget(4);
  std::string params;
  append_params(params, 4, name_value_list{{"A", "B"}});
  decoder.put(params, message, ready, ec);
  ASSERT_TRUE(ready);
  EXPECT_TRUE(std::holds_alternative<message::ignored_record>(message));
}

TEST(MessageDecoder, InputEndingMidRecordIsNotACleanEnd) {
  std::string input;
  append_stream(input, record_type::std_in, 1, "abc");
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    const auto result = decode_all(std::string_view(input).substr(0, cut));
    EXPECT_FALSE(result.error);
    EXPECT_FALSE(result.clean_end) << "cut at " << cut;
  }
  EXPECT_TRUE(decode_all(input).clean_end);
}

}  // namespace
}  // namespace fcgihost::protocol
