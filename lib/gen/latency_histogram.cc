#include "gen/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace dpx::gen {

// Values below kSub map 1:1; above, the top kSubBits+1 bits pick the bucket.
int LatencyHistogram::Index(uint64_t v) {
  if (v < kSub) return static_cast<int>(v);
  const int msb = 63 - __builtin_clzll(v);  // >= kSubBits
  const int shift = msb - kSubBits;
  const int sub = static_cast<int>((v >> shift) & (kSub - 1));
  return (shift + 1) * kSub + sub;
}

uint64_t LatencyHistogram::UpperEdge(int idx) {
  if (idx < kSub) return static_cast<uint64_t>(idx);
  const int shift = idx / kSub - 1;
  const uint64_t sub = static_cast<uint64_t>(idx % kSub) | kSub;
  return ((sub + 1) << shift) - 1;
}

void LatencyHistogram::Record(uint64_t ns) {
  ++buckets_[Index(ns)];
  ++count_;
  sum_ += ns;
  max_ = std::max(max_, ns);
  min_ = std::min(min_, ns);
}

void LatencyHistogram::Merge(const LatencyHistogram& o) {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
  min_ = std::min(min_, o.min_);
}

uint64_t LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(UpperEdge(i), max_);
  }
  return max_;
}

}  // namespace dpx::gen
