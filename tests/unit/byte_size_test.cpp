// Byte counts as fcgi-host's script-memory and fcgi-bench's --body-size take them.
#include <fcgihost/protocol/byte_size.hpp>

#include <gtest/gtest.h>

namespace fcgihost::protocol {
namespace {

TEST(ByteSize, PlainNumbersAndBinarySuffixes) {
  EXPECT_EQ(parse_byte_size("0"), 0u);
  EXPECT_EQ(parse_byte_size("512"), 512u);
  EXPECT_EQ(parse_byte_size("64K"), 64u * 1024);
  EXPECT_EQ(parse_byte_size("64k"), 64u * 1024);
  EXPECT_EQ(parse_byte_size("1M"), 1024u * 1024);
  EXPECT_EQ(parse_byte_size("2G"), 2ull * 1024 * 1024 * 1024);
}

TEST(ByteSize, AnythingElseIsRefused) {
  for (const char* bad : {"", "K", "-1", "1.5M", "12KB", "1T", " 1", "1 ", "abc"})
    EXPECT_FALSE(parse_byte_size(bad)) << bad;
  // More than 2^62 bytes, with or without a suffix.
  EXPECT_FALSE(parse_byte_size("4294967297G"));
  EXPECT_EQ(parse_byte_size("4294967296G"), std::uint64_t{1} << 62);
  EXPECT_FALSE(parse_byte_size("18446744073709551615"));
  EXPECT_EQ(parse_byte_size("4194304G"), std::uint64_t{1} << 52);
}

}  // namespace
}  // namespace fcgihost::protocol
