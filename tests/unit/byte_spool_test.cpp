// The spool keeps order across memory and its temporary file, whatever the
// sizes of what goes in and comes out.
#include <host/request/byte_spool.hpp>

#include <gtest/gtest.h>

#include "../support/crc32.hpp"

namespace fcgihost::host {
namespace {

std::string drain(byte_spool& spool, std::size_t piece) {
  std::string out;
  for (auto chunk = spool.take(piece); !chunk.empty(); chunk = spool.take(piece)) out += chunk;
  return out;
}

TEST(ByteSpool, SmallDataStaysInMemory) {
  byte_spool spool(1024);
  spool.append("hello ");
  spool.append("world");
  EXPECT_EQ(spool.memory_bytes(), 11u);
  EXPECT_EQ(spool.spooled_bytes(), 0u);
  EXPECT_EQ(drain(spool, 4), "hello world");
  EXPECT_TRUE(spool.empty());
}

TEST(ByteSpool, PastTheLimitGoesToDiskAndComesBackInOrder) {
  const std::string data = test::patterned_bytes(1000003);
  byte_spool spool(64 * 1024);
  for (std::size_t at = 0; at < data.size(); at += 7919) spool.append(std::string_view(data).substr(at, 7919));
  EXPECT_LE(spool.memory_bytes(), 64u * 1024);
  EXPECT_GT(spool.spooled_bytes(), 0u);
  EXPECT_EQ(test::crc32_hex(drain(spool, 5000)), test::crc32_hex(data));
  EXPECT_TRUE(spool.empty());
}

TEST(ByteSpool, AppendsWhileTheFileIsBeingReadKeepOrder) {
  byte_spool spool(10);
  std::string expected;
  std::string got;
  for (int round = 0; round < 200; ++round) {
    const std::string piece = std::to_string(round) + ":" + std::string(static_cast<std::size_t>(round % 13), 'x') + ";";
    spool.append(piece);
    expected += piece;
    got += spool.take(static_cast<std::size_t>(round % 7 + 1));
  }
  got += drain(spool, 3);
  EXPECT_EQ(got, expected);
}

TEST(ByteSpool, PiecesThatWaitTogetherComeOutTogether) {
  byte_spool spool(4 * 1024 * 1024);
  const std::string data = test::patterned_bytes(5 * 65536);
  for (std::size_t at = 0; at < data.size(); at += 65536) spool.append(std::string_view(data).substr(at, 65536));
  // One take gets up to 256 KiB of them, not one piece.
  EXPECT_EQ(spool.take(1024 * 1024), data.substr(0, 4 * 65536));
  EXPECT_EQ(spool.take(1024 * 1024), data.substr(4 * 65536));
  EXPECT_TRUE(spool.empty());
}

TEST(ByteSpool, TakesBetweenAppendsInMemoryKeepOrder) {
  byte_spool spool(16 * 1024 * 1024);
  const std::string data = test::patterned_bytes(3000017);
  std::string got;
  std::size_t at = 0;
  for (std::size_t round = 0; at < data.size(); ++round) {
    const std::size_t size = std::min<std::size_t>(data.size() - at, 1 + round * 7919 % 70000);
    spool.append(std::string_view(data).substr(at, size));
    at += size;
    got += spool.take(1 + round * 104729 % 90000);
  }
  got += drain(spool, 50000);
  EXPECT_EQ(test::crc32_hex(got), test::crc32_hex(data));
  EXPECT_EQ(spool.spooled_bytes(), 0u);
}

TEST(ByteSpool, ClearDropsEverything) {
  byte_spool spool(4);
  spool.append("abcdefgh");
  spool.clear();
  EXPECT_TRUE(spool.empty());
  spool.append("xy");
  EXPECT_EQ(drain(spool, 10), "xy");
}

}  // namespace
}  // namespace fcgihost::host
