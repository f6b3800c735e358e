#include <host/common/log_throttle.hpp>

#include <gtest/gtest.h>

namespace fcgihost::host {
namespace {

TEST(LogThrottle, TenASecondThenTheNextLineSaysHowManyWereNotLogged) {
  log_throttle throttle(10);
  std::string more;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(throttle.allow_at(100, more)) << i;
    EXPECT_EQ(more, "");
  }
  for (int i = 0; i < 25; ++i) EXPECT_FALSE(throttle.allow_at(100, more));
  EXPECT_TRUE(throttle.allow_at(101, more));
  EXPECT_EQ(more, " (25 more like it not logged)");
  EXPECT_TRUE(throttle.allow_at(101, more));
  EXPECT_EQ(more, "");  // told once
}

}  // namespace
}  // namespace fcgihost::host
