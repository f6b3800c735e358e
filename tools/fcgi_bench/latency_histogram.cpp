#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fcgihost::bench {

std::size_t latency_histogram::bucket_of(std::uint64_t value) {
  if (value < exact_below) return static_cast<std::size_t>(value);
  const unsigned top_bit = static_cast<unsigned>(std::bit_width(value)) - 1;  // 7 and up
  const unsigned shift = top_bit - sub_bucket_bits;
  const std::size_t sub = static_cast<std::size_t>(value >> shift) - (1u << sub_bucket_bits);
  return exact_below + (top_bit - sub_bucket_bits - 1) * (1u << sub_bucket_bits) + sub;
}

std::uint64_t latency_histogram::upper_bound_of(std::size_t bucket) {
  if (bucket < exact_below) return bucket;
  const std::size_t above = bucket - exact_below;
  const unsigned shift = static_cast<unsigned>(above >> sub_bucket_bits) + 1;
  const std::uint64_t sub = above & ((1u << sub_bucket_bits) - 1);
  const std::uint64_t lower = ((std::uint64_t{1} << sub_bucket_bits) + sub) << shift;
  return lower + (std::uint64_t{1} << shift) - 1;
}

void latency_histogram::record(std::uint64_t microseconds) {
  ++buckets_[bucket_of(microseconds)];
  ++count_;
  sum_ += microseconds;
  max_ = std::max(max_, microseconds);
}

void latency_histogram::merge(const latency_histogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

std::uint64_t latency_histogram::percentile(double fraction) const {
  if (count_ == 0) return 0;
  const auto wanted = static_cast<std::uint64_t>(
      std::max(1.0, std::ceil(std::clamp(fraction, 0.0, 1.0) * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += buckets_[i];
    if (seen >= wanted) return std::min(upper_bound_of(i), max_);
  }
  return max_;
}

}  // namespace fcgihost::bench
