// Hierarchical timer wheel: 4 levels x 256 slots over 32-bit ticks.
//
// Why this shape (and not Linux's post-4.8 non-cascading wheel): TCP timers
// here must fire exactly at their tick and in order (a test advances virtual
// time 60 s and expects TIME_WAIT, RTO, ... to fire in expiry order), which
// Linux's newer wheel gives up (it rounds far timers up by up to 12.5%).
// The classic cascading design keeps exact expiry at the price of moving a
// far timer down at most 3 times in its life, and 4 x 8 bits cover the whole
// 32-bit tick space, so every timer up to 2^31 ticks ahead has a slot.
//
// Placement. A timer expiring at tick `e`, seen from the current tick `t`,
// sits on level k = the highest 8-bit group in which e and t differ (level 0
// when they share the same 256-tick block), in slot `group_k(e)`. Level k
// slot s is cascaded (its timers re-placed from the current tick) exactly
// when t reaches the start of that block: low 8k bits zero and group_k(t) ==
// s. That is exactly the tick at which the level of every timer in it drops,
// so at any moment all timers with the same expiry sit in the same slot, in
// arm order (arming appends; cascading moves a whole slot in order). Hence
// "same tick: arm order" holds without per-timer sequence numbers.
//
// Occupancy. Each level has a 256-bit bitmap of non-empty slots. By the
// placement rule, occupied slots on levels 0..2 are strictly ahead of the
// current tick's group on that level (within the current block of the level
// above), and on level 3 within (group3(t), group3(t) + 128]. So the next
// tick with work is: the next occupied level-0 slot in this block, else the
// start of the next occupied level-1 block, else level 2, else level 3 --
// found with a few count-trailing-zero instructions. Advance jumps straight
// from event to event, so a 60 s jump over an empty wheel costs O(1), and
// NextExpiryNs() is exact when the answer comes from level 0 and the cascade
// point (a lower bound) otherwise.
//
// Timers armed at or before the current tick are clamped to the current tick
// and go to the current level-0 slot; every Advance first re-runs that slot,
// so they fire on the next Advance (or in the running one, when a handler
// arms them).
//
// While a handler runs, now_ns() is the fired timer's own tick, not the
// Advance target, so ArmAfter() from a handler does not drift (a periodic
// timer stays on its period) and a handler sees the time its timer was for.
#include "core/timer_wheel.h"

#include <bit>
#include <cassert>
#include <cstdlib>

namespace dpx {

namespace {

constexpr unsigned kLevels = 4;
constexpr unsigned kSlotBits = 8;
constexpr unsigned kSlots = 1u << kSlotBits;  // per level
constexpr unsigned kSlotMask = kSlots - 1;
constexpr unsigned kWords = kSlots / 64;
constexpr uint64_t kMaxAheadTicks = uint64_t{1} << 31;

constexpr unsigned Group(uint32_t tick, unsigned level) {
  return (tick >> (level * kSlotBits)) & kSlotMask;
}

// Level on which a timer expiring at `e` sits when the wheel is at `t`.
constexpr unsigned LevelOf(uint32_t e, uint32_t t) {
  const uint32_t diff = e ^ t;
  if (diff < (1u << 8)) return 0;
  if (diff < (1u << 16)) return 1;
  if (diff < (1u << 24)) return 2;
  return 3;
}

}  // namespace

struct TimerWheel::Impl {
  // Circular doubly-linked lists with a sentinel head per slot, so an armed
  // timer's `prev` is never null and unlinking needs no slot lookup.
  Timer heads[kLevels][kSlots];
  uint64_t occupied[kLevels][kWords] = {};
  struct Entry {
    Handler fn = nullptr;
    void* ctx = nullptr;
  } handlers[kMaxKinds];
  bool running = false;

  Impl() {
    for (auto& level : heads)
      for (Timer& h : level) h.next = h.prev = &h;
  }

  void SetBit(unsigned level, unsigned idx) {
    occupied[level][idx / 64] |= uint64_t{1} << (idx % 64);
  }
  void ClearBit(unsigned level, unsigned idx) {
    occupied[level][idx / 64] &= ~(uint64_t{1} << (idx % 64));
  }
  bool TestBit(unsigned level, unsigned idx) const {
    return (occupied[level][idx / 64] >> (idx % 64)) & 1;
  }
  // First occupied slot on `level` with index >= from, or -1.
  int FindFrom(unsigned level, unsigned from) const {
    if (from >= kSlots) return -1;
    unsigned w = from / 64;
    uint64_t bits = occupied[level][w] & (~uint64_t{0} << (from % 64));
    for (;;) {
      if (bits) return static_cast<int>(w * 64 + std::countr_zero(bits));
      if (++w == kWords) return -1;
      bits = occupied[level][w];
    }
  }

  void Place(Timer* t, uint32_t now) {
    const unsigned level = LevelOf(t->expires, now);
    const unsigned idx = Group(t->expires, level);
    Timer* head = &heads[level][idx];
    t->slot = static_cast<uint16_t>(level << kSlotBits | idx);
    t->next = head;
    t->prev = head->prev;
    head->prev->next = t;
    head->prev = t;
    SetBit(level, idx);
  }

  void Unlink(Timer* t) {
    t->prev->next = t->next;
    t->next->prev = t->prev;
    const unsigned level = t->slot >> kSlotBits;
    const unsigned idx = t->slot & kSlotMask;
    const Timer* head = &heads[level][idx];
    if (head->next == head) ClearBit(level, idx);
    t->next = t->prev = nullptr;
  }

  // Re-places every timer of level `level`, slot `idx`, seen from `now`.
  void Cascade(unsigned level, unsigned idx, uint32_t now) {
    Timer* head = &heads[level][idx];
    Timer* p = head->next;
    if (p == head) return;
    head->prev->next = nullptr;  // terminate the detached chain
    head->next = head->prev = head;
    ClearBit(level, idx);
    while (p != nullptr) {
      Timer* next = p->next;
      if (next != nullptr) __builtin_prefetch(next, 1);  // pointer chase: overlap the next miss
      Place(p, now);
      p = next;
    }
  }

  // Ticks from `now` to the next tick > now that has work (a level-0 slot
  // to run or a non-empty slot to cascade); 0 when the wheel is empty.
  uint64_t NextEventDelta(uint32_t now) const {
    int idx = FindFrom(0, Group(now, 0) + 1);
    if (idx >= 0) return static_cast<uint32_t>(idx) - Group(now, 0);
    for (unsigned level = 1; level < 3; ++level) {
      idx = FindFrom(level, Group(now, level) + 1);
      if (idx >= 0) {
        const unsigned shift = level * kSlotBits;
        const uint32_t block = now & ~((uint32_t{1} << (shift + kSlotBits)) - 1);
        return (block | static_cast<uint32_t>(idx) << shift) - now;
      }
    }
    // Level 3 wraps: search after the current group, then from 0.
    const unsigned g = Group(now, 3);
    idx = FindFrom(3, g + 1);
    if (idx < 0) idx = FindFrom(3, 0);
    if (idx < 0) return 0;
    assert(static_cast<unsigned>(idx) != g && "level 3 holds only timers ahead of the current group");
    return static_cast<uint32_t>(static_cast<uint32_t>(idx) << 24) - now;
  }
};

TimerWheel::TimerWheel(uint64_t now_ns, uint64_t tick_ns)
    : impl_(new Impl), tick_ns_(tick_ns == 0 ? 1 : tick_ns), now_tick64_(now_ns / tick_ns_) {}

// Does not touch the timers still armed: their owners may already be gone
// (a pool freed in bulk at shutdown). Owners that outlive the wheel must not
// Cancel() them afterwards.
TimerWheel::~TimerWheel() { delete impl_; }

void TimerWheel::SetHandler(uint16_t kind, Handler fn, void* ctx) {
  assert(kind < kMaxKinds);
  if (kind >= kMaxKinds) std::abort();
  impl_->handlers[kind] = {fn, ctx};
}

uint32_t TimerWheel::TickOf(uint64_t ns) const {
  return static_cast<uint32_t>(ns / tick_ns_ + (ns % tick_ns_ != 0));
}

void TimerWheel::Arm(Timer* t, uint64_t expires_ns) {
  assert(t->kind < kMaxKinds);
  if (t->armed()) {
    impl_->Unlink(t);
  } else {
    ++count_;
  }
  uint64_t tick = expires_ns / tick_ns_ + (expires_ns % tick_ns_ != 0);
  if (tick < now_tick64_) tick = now_tick64_;
  if (tick - now_tick64_ > kMaxAheadTicks) tick = now_tick64_ + kMaxAheadTicks;
  t->expires = static_cast<uint32_t>(tick);
  impl_->Place(t, static_cast<uint32_t>(now_tick64_));
}

void TimerWheel::ArmAfter(Timer* t, uint64_t delay_ns) {
  const uint64_t now = now_ns();
  const uint64_t at = delay_ns > UINT64_MAX - now ? UINT64_MAX : now + delay_ns;
  Arm(t, at);
}

void TimerWheel::Cancel(Timer* t) {
  if (!t->armed()) return;
  impl_->Unlink(t);
  --count_;
}

size_t TimerWheel::Advance(uint64_t now_ns) {
  assert(!impl_->running && "TimerWheel::Advance is not reentrant");
  impl_->running = true;
  uint64_t target = now_ns / tick_ns_;
  if (target < now_tick64_) target = now_tick64_;
  size_t fired = 0;

  auto run_slot = [&](uint32_t tick) {
    Timer* head = &impl_->heads[0][Group(tick, 0)];
    while (head->next != head) {
      Timer* t = head->next;
      impl_->Unlink(t);
      --count_;
      ++fired;
      const Impl::Entry& h = impl_->handlers[t->kind];
      assert(h.fn != nullptr && "timer kind without a handler");
      if (h.fn != nullptr) h.fn(t, h.ctx);
    }
  };

  // Timers armed at (or clamped to) the current tick since the last run.
  run_slot(static_cast<uint32_t>(now_tick64_));
  while (now_tick64_ < target && count_ > 0) {
    const uint64_t delta = impl_->NextEventDelta(static_cast<uint32_t>(now_tick64_));
    if (delta == 0 || delta > target - now_tick64_) break;
    now_tick64_ += delta;
    const uint32_t tick = static_cast<uint32_t>(now_tick64_);
    for (unsigned level = kLevels - 1; level >= 1; --level) {
      const unsigned shift = level * kSlotBits;
      if ((tick & ((uint32_t{1} << shift) - 1)) == 0) impl_->Cascade(level, Group(tick, level), tick);
    }
    run_slot(tick);
  }
  now_tick64_ = target;
  impl_->running = false;
  return fired;
}

uint64_t TimerWheel::NextExpiryNs() const {
  if (count_ == 0) return UINT64_MAX;
  const uint32_t now = static_cast<uint32_t>(now_tick64_);
  if (impl_->TestBit(0, Group(now, 0))) return now_ns();
  const uint64_t delta = impl_->NextEventDelta(now);
  return (now_tick64_ + delta) * tick_ns_;
}

}  // namespace dpx
