// Monotonic time for the data path: one interface, two implementations.
// Production reads the TSC; tests use VirtualClock and advance it by hand.
#pragma once

#include <cstdint>

namespace dpx {

inline constexpr uint64_t kNsPerUs = 1'000;
inline constexpr uint64_t kNsPerMs = 1'000'000;
inline constexpr uint64_t kNsPerSec = 1'000'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since an arbitrary epoch; never goes backwards.
  virtual uint64_t NowNs() const = 0;
};

// TSC-based clock. Uses rte_get_tsc_hz() once EAL is up; before that (or
// when the TSC rate is unknown) it falls back to CLOCK_MONOTONIC.
class TscClock final : public Clock {
 public:
  TscClock();
  uint64_t NowNs() const override;
  // Switches from clock_gettime to the TSC once EAL knows its frequency
  // (rte_get_tsc_hz is 0 before rte_eal_init); time continues from the same
  // monotonic origin. Call before any other thread reads the clock.
  void Calibrate();

 private:
  uint64_t tsc_hz_ = 0;
  uint64_t tsc_base_ = 0;
  uint64_t offset_ns_ = 0;
  uint64_t ns_per_cycle_q32_ = 0;  // 2^32 * 1e9 / hz: a multiply, not a divide
};

// Time that moves only when a test says so.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(uint64_t start_ns = 0) : now_ns_(start_ns) {}
  uint64_t NowNs() const override { return now_ns_; }
  void Advance(uint64_t ns) { now_ns_ += ns; }
  // Moves time forward to `ns`; a value in the past is ignored.
  void Set(uint64_t ns) {
    if (ns > now_ns_) now_ns_ = ns;
  }

 private:
  uint64_t now_ns_;
};

}  // namespace dpx
