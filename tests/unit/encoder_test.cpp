// The encoder checked against literal bytes of the FastCGI 1.0 spec's layouts.
#include <fcgihost/protocol/encoder.hpp>
#include <fcgihost/protocol/stream_framing.hpp>

#include <gtest/gtest.h>

#include "../support/hex.hpp"

namespace fcgihost::protocol {
namespace {

using test::dump;
using test::hex;

std::string encoded(auto&& append) {
  std::string out;
  append(out);
  return out;
}

TEST(Encoder, BeginRequestWithKeepConn) {
  EXPECT_EQ(dump(encoded([](auto& out) { append_begin_request(out, 1, role::responder, true); })),
            dump(hex("01 01 00 01 00 08 00 00  00 01 01 00 00 00 00 00")));
}

TEST(Encoder, BeginRequestWithoutKeepConnAndLargeId) {
  EXPECT_EQ(dump(encoded([](auto& out) { append_begin_request(out, 0x1234, role::filter, false); })),
            dump(hex("01 01 12 34 00 08 00 00  00 03 00 00 00 00 00 00")));
}

TEST(Encoder, ParamsArePaddedToEightAndEndedByAnEmptyRecord) {
  const name_value_list params{{"SCRIPT_NAME", "/x"}};
  EXPECT_EQ(dump(encoded([&](auto& out) { append_params(out, 1, params); })),
            dump(hex("01 04 00 01 00 0f 01 00  0b 02 'SCRIPT_NAME' '/x' 00"
                     "01 04 00 01 00 00 00 00")));
}

TEST(Encoder, LongValueUsesFourByteLengthWithHighBit) {
  const std::string value(200, 'v');
  std::string out;
  append_name_value(out, "N", value);
  EXPECT_EQ(dump(out.substr(0, 6)), dump(hex("01 80 00 00 c8 'N'")));
  EXPECT_EQ(out.size(), 1 + 4 + 1 + 200u);
}

TEST(Encoder, StdoutRecordWithPadding) {
  EXPECT_EQ(dump(encoded([](auto& out) { append_stream(out, record_type::std_out, 2, "hello"); })),
            dump(hex("01 06 00 02 00 05 03 00 'hello' 00 00 00")));
}

TEST(Encoder, EmptyStreamDataWritesNothingAndEndIsExplicit) {
  EXPECT_EQ(encoded([](auto& out) { append_stream(out, record_type::std_in, 1, ""); }), "");
  EXPECT_EQ(dump(encoded([](auto& out) { append_stream_end(out, record_type::std_err, 7); })),
            dump(hex("01 07 00 07 00 00 00 00")));
}

TEST(Encoder, LargeStreamIsCutIntoAlignedRecords) {
  const std::string data(70000, 'z');
  const std::string out = encoded([&](auto& o) { append_stream(o, record_type::std_in, 1, data); });
  // 65528 (0xfff8) + 4472 (0x1178): both multiples of 8, so no padding.
  ASSERT_EQ(out.size(), 8 + 65528 + 8 + 4472u);
  EXPECT_EQ(dump(out.substr(0, 8)), dump(hex("01 05 00 01 ff f8 00 00")));
  EXPECT_EQ(dump(out.substr(8 + 65528, 8)), dump(hex("01 05 00 01 11 78 00 00")));
}

TEST(Encoder, GatheredRecordsAreTheEncodedStreamWithoutCopyingTheData) {
  for (std::size_t size : {std::size_t{0}, std::size_t{5}, std::size_t{65528}, std::size_t{70003}}) {
    const std::string data(size, 'g');
    const gathered_records records(record_type::std_out, 3, data);
    std::string joined;
    for (const auto piece : records.pieces()) joined.append(piece);
    EXPECT_EQ(joined, encoded([&](auto& out) { append_stream(out, record_type::std_out, 3, data); })) << size;
    EXPECT_EQ(records.pieces().size() >= 2 ? records.pieces()[1].data() : data.data(), data.data()) << size;
  }
}

TEST(Encoder, EndRequestCarriesAppStatusAndProtocolStatus) {
  EXPECT_EQ(dump(encoded([](auto& out) { append_end_request(out, 2, 408, protocol_status::request_complete); })),
            dump(hex("01 03 00 02 00 08 00 00  00 00 01 98 00 00 00 00")));
  EXPECT_EQ(dump(encoded([](auto& out) { append_end_request(out, 3, 0, protocol_status::overloaded); })),
            dump(hex("01 03 00 03 00 08 00 00  00 00 00 00 02 00 00 00")));
}

TEST(Encoder, AbortRequestHasNoBody) {
  EXPECT_EQ(dump(encoded([](auto& out) { append_abort_request(out, 3); })), dump(hex("01 02 00 03 00 00 00 00")));
}

TEST(Encoder, GetValuesAndResult) {
  const std::vector<std::string> names{"FCGI_MAX_CONNS"};
  EXPECT_EQ(dump(encoded([&](auto& out) { append_get_values(out, names); })),
            dump(hex("01 09 00 00 00 10 00 00  0e 00 'FCGI_MAX_CONNS'")));
  const name_value_list values{{"FCGI_MPXS_CONNS", "1"}};
  EXPECT_EQ(dump(encoded([&](auto& out) { append_get_values_result(out, values); })),
            dump(hex("01 0a 00 00 00 12 06 00  0f 01 'FCGI_MPXS_CONNS' '1' 00 00 00 00 00 00")));
}

TEST(Encoder, UnknownType) {
  EXPECT_EQ(dump(encoded([](auto& out) { append_unknown_type(out, 200); })),
            dump(hex("01 0b 00 00 00 08 00 00  c8 00 00 00 00 00 00 00")));
}

TEST(Encoder, OversizedRecordContentIsRefused) {
  std::string out;
  EXPECT_THROW(append_record(out, record_type::std_out, 1, std::string(65536, 'x')), std::length_error);
}

}  // namespace
}  // namespace fcgihost::protocol
