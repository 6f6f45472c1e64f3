// Hierarchical timer wheel, one per core. Arm, re-arm and cancel are O(1);
// expiry walks only the slots that are due. It carries every TCP timer
// (RTO, delayed ACK, keepalive, FIN_WAIT2, TIME_WAIT) for millions of
// connections, so a Timer is small (24 bytes) and intrusive: it lives inside
// the object it times, and the callback is looked up by `kind` in a table
// the owner registers once (no per-timer function pointer).
//
// Time is in ticks of `tick_ns` (default 1 ms, Linux HZ=1000). Ticks are
// 32-bit and compared with wrap-around arithmetic, like jiffies, so a timer
// may be at most 2^31 ticks (about 24 days at 1 ms) in the future.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dpx {

struct Timer {
  Timer* next = nullptr;
  Timer* prev = nullptr;      // nullptr <=> not armed
  uint32_t expires = 0;       // tick at which it fires
  uint16_t kind = 0;          // index into the wheel's handler table
  uint16_t slot = 0;          // wheel-internal: level and slot it sits in

  bool armed() const { return prev != nullptr; }
};
static_assert(sizeof(Timer) == 24, "Timer must stay 24 bytes");

class TimerWheel {
 public:
  using Handler = void (*)(Timer* t, void* ctx);
  static constexpr uint16_t kMaxKinds = 64;

  // `now_ns` is the wheel's starting time.
  explicit TimerWheel(uint64_t now_ns, uint64_t tick_ns = 1'000'000);
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Registers the callback for timers of `kind`; `ctx` is passed back.
  void SetHandler(uint16_t kind, Handler fn, void* ctx);

  // Arms `t` (of its `kind`) to fire at `expires_ns` (rounded up to a tick;
  // a time at or before now fires on the next Advance). Re-arms if armed.
  void Arm(Timer* t, uint64_t expires_ns);
  // Arms `t` to fire `delay_ns` after the wheel's current time.
  void ArmAfter(Timer* t, uint64_t delay_ns);
  // Disarms `t`; a no-op when it is not armed.
  void Cancel(Timer* t);

  // Runs every timer whose expiry is at or before `now_ns`, in expiry order
  // (same tick: in arm order). A handler may arm, re-arm or cancel any timer,
  // including itself and ones due in this same call (they fire in this call
  // if due). Returns how many fired.
  size_t Advance(uint64_t now_ns);

  // Earliest time at which a timer may fire: exact for the nearest level,
  // a lower bound for timers on higher levels (the cascade point). Returns
  // UINT64_MAX when no timer is armed. Virtual-time drivers step to it.
  uint64_t NextExpiryNs() const;

  uint64_t now_ns() const { return static_cast<uint64_t>(now_tick64_) * tick_ns_; }
  uint64_t tick_ns() const { return tick_ns_; }
  size_t size() const { return count_; }
  uint32_t TickOf(uint64_t ns) const;  // rounded up

 private:
  struct Impl;
  Impl* impl_;
  uint64_t tick_ns_;
  uint64_t now_tick64_;
  size_t count_ = 0;
};

}  // namespace dpx
