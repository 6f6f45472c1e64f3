#include "core/clock.h"

#include <rte_cycles.h>
#include <time.h>

namespace dpx {

namespace {
uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

TscClock::TscClock() {
  tsc_hz_ = rte_get_tsc_hz();
  tsc_base_ = tsc_hz_ ? rte_rdtsc() : 0;
}

uint64_t TscClock::NowNs() const {
  if (tsc_hz_ == 0) return MonotonicNs();
  const uint64_t cycles = rte_rdtsc() - tsc_base_;
  // Split to avoid overflow of cycles * 1e9 after ~5 s at 3 GHz.
  const uint64_t sec = cycles / tsc_hz_;
  const uint64_t rem = cycles % tsc_hz_;
  return sec * kNsPerSec + rem * kNsPerSec / tsc_hz_;
}

}  // namespace dpx
