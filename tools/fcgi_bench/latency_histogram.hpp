// Latencies in microseconds, counted in log-linear buckets (64 per power of
// two, so a percentile is within 1.6% of the true value) in fixed memory,
// however long the run. Histograms of several threads merge by adding.
#pragma once

#include <array>
#include <cstdint>

namespace fcgihost::bench {

class latency_histogram {
 public:
  void record(std::uint64_t microseconds);
  void merge(const latency_histogram& other);

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0.0; }
  // The value below which `fraction` (0..1) of the samples lie: the upper
  // bound of the bucket that holds it, never above the largest sample.
  std::uint64_t percentile(double fraction) const;

  // Bucket arithmetic, public for the tests.
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t upper_bound_of(std::size_t bucket);

 private:
  static constexpr unsigned sub_bucket_bits = 6;  // 64 buckets per power of two
  static constexpr std::size_t exact_below = 2u << sub_bucket_bits;  // 0..127 exactly
  static constexpr std::size_t bucket_count = exact_below + (64 - sub_bucket_bits - 1) * (1u << sub_bucket_bits);

  std::array<std::uint64_t, bucket_count> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace fcgihost::bench
