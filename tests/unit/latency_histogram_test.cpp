// fcgi-bench's latency histogram: buckets cover every value in order, and
// percentiles stay within the bucket precision (1/64).
#include <gtest/gtest.h>

#include <fcgi_bench/latency_histogram.hpp>

namespace fcgihost::bench {
namespace {

TEST(LatencyHistogram, EveryValueFallsInABucketThatHoldsIt) {
  std::size_t previous = 0;
  for (std::uint64_t value = 0; value < 200'000; value += (value < 1000 ? 1 : 37)) {
    const std::size_t bucket = latency_histogram::bucket_of(value);
    EXPECT_GE(bucket, previous) << value;
    EXPECT_GE(latency_histogram::upper_bound_of(bucket), value) << value;
    if (bucket > 0) {
      EXPECT_LT(latency_histogram::upper_bound_of(bucket - 1), value) << value;
    }
    previous = bucket;
  }
  const std::uint64_t huge = ~std::uint64_t{0};
  EXPECT_EQ(latency_histogram::upper_bound_of(latency_histogram::bucket_of(huge)), huge);
}

TEST(LatencyHistogram, PercentilesAreWithinTheBucketPrecision) {
  latency_histogram histogram;
  for (std::uint64_t value = 1; value <= 100'000; ++value) histogram.record(value);
  EXPECT_EQ(histogram.count(), 100'000u);
  EXPECT_EQ(histogram.max(), 100'000u);
  EXPECT_NEAR(histogram.mean(), 50'000.5, 0.01);
  for (const double fraction : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = fraction * 100'000;
    EXPECT_NEAR(static_cast<double>(histogram.percentile(fraction)), exact, exact / 64 + 1) << fraction;
  }
  EXPECT_EQ(histogram.percentile(1.0), 100'000u);
}

TEST(LatencyHistogram, MergingAddsTheCounts) {
  latency_histogram a, b;
  a.record(10);
  b.record(1000);
  b.record(3);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.max(), 1000u);
  EXPECT_EQ(a.percentile(0.34), 10u);
  EXPECT_EQ(latency_histogram().percentile(0.5), 0u);
}

}  // namespace
}  // namespace fcgihost::bench
