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

TscClock::TscClock() { Calibrate(); }

void TscClock::Calibrate() {
  const uint64_t hz = rte_get_tsc_hz();
  if (hz == 0) return;
  offset_ns_ = NowNs();
  tsc_base_ = rte_rdtsc();
  ns_per_cycle_q32_ = static_cast<uint64_t>((static_cast<unsigned __int128>(kNsPerSec) << 32) / hz);
  tsc_hz_ = hz;
}

// The reactor reads this once per iteration: rdtsc rather than a vDSO call.
uint64_t TscClock::NowNs() const {
  if (tsc_hz_ == 0) return MonotonicNs();
  const uint64_t cycles = rte_rdtsc() - tsc_base_;
  // 128-bit product: no overflow for centuries; error below 1 ns per 4 s.
  return offset_ns_ +
         static_cast<uint64_t>((static_cast<unsigned __int128>(cycles) * ns_per_cycle_q32_) >> 32);
}

}  // namespace dpx
