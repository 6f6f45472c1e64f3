// A log-linear latency histogram (HdrHistogram-style, 1/16 relative
// precision): 16 sub-buckets per power of two, fixed size, no allocation
// per sample, mergeable. Values are nanoseconds.
#pragma once

#include <array>
#include <cstdint>

namespace dpx::gen {

class LatencyHistogram {
 public:
  void Record(uint64_t ns);
  void Merge(const LatencyHistogram& o);
  void Clear() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The value at quantile q (0..1): the upper edge of the bucket holding
  // it, capped at the largest value seen; 0 when empty.
  uint64_t Percentile(double q) const;

 private:
  static constexpr int kSubBits = 4;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;
  static int Index(uint64_t v);
  static uint64_t UpperEdge(int idx);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0, sum_ = 0, max_ = 0, min_ = ~uint64_t{0};
};

}  // namespace dpx::gen
