#include "core/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace dpx {
namespace {

constexpr uint64_t kMs = kNsPerMs;

// An object that owns a timer, as a TCB would.
struct Item {
  Timer timer;  // first member: Timer* <-> Item*
  int id = 0;
  std::function<void(Item*)> on_fire;  // optional extra action
};

struct Fired {
  int id;
  uint64_t at_ns;     // wheel time when the handler ran
  uint32_t expires;   // the timer's tick
  bool operator==(const Fired&) const = default;
};

// Records every firing; timers of kind 0 go here.
struct Recorder {
  TimerWheel* wheel = nullptr;
  std::vector<Fired> fired;

  static void OnTimer(Timer* t, void* ctx) {
    auto* self = static_cast<Recorder*>(ctx);
    auto* item = reinterpret_cast<Item*>(t);
    EXPECT_FALSE(t->armed()) << "a timer is disarmed before its handler runs";
    self->fired.push_back({item->id, self->wheel->now_ns(), t->expires});
    if (item->on_fire) item->on_fire(item);
  }
};

class TimerWheelTest : public ::testing::Test {
 protected:
  explicit TimerWheelTest(uint64_t start_ns = 0) : wheel_(start_ns) { Init(); }
  void Init() {
    rec_.wheel = &wheel_;
    wheel_.SetHandler(0, &Recorder::OnTimer, &rec_);
  }
  Item* Make(int id) {
    items_.push_back(std::make_unique<Item>());
    items_.back()->id = id;
    return items_.back().get();
  }
  std::vector<int> FiredIds() const {
    std::vector<int> ids;
    for (const Fired& f : rec_.fired) ids.push_back(f.id);
    return ids;
  }

  std::vector<std::unique_ptr<Item>> items_;  // outlive the wheel
  TimerWheel wheel_;
  Recorder rec_;
};

TEST(TimerTest, IsTwentyFourBytesAndStartsDisarmed) {
  Timer t;
  EXPECT_EQ(sizeof(Timer), 24u);
  EXPECT_FALSE(t.armed());
}

TEST_F(TimerWheelTest, FiresInExpiryOrderAtItsTick) {
  const uint64_t at[] = {5, 3, 9, 1, 7};
  for (int i = 0; i < 5; ++i) wheel_.Arm(&Make(i)->timer, at[i] * kMs);
  EXPECT_EQ(wheel_.size(), 5u);
  EXPECT_EQ(wheel_.Advance(10 * kMs), 5u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{3, 1, 0, 4, 2}));
  for (const Fired& f : rec_.fired) EXPECT_EQ(f.at_ns, uint64_t{f.expires} * kMs);
  EXPECT_EQ(wheel_.size(), 0u);
  EXPECT_EQ(wheel_.now_ns(), 10 * kMs);
}

TEST_F(TimerWheelTest, DoesNotFireBeforeDueAndRoundsUpToATick) {
  Item* a = Make(1);
  wheel_.Arm(&a->timer, 4 * kMs + 500'000);  // 4.5 ms -> tick 5
  EXPECT_EQ(a->timer.expires, 5u);
  EXPECT_EQ(wheel_.Advance(4 * kMs + 999'999), 0u);
  EXPECT_TRUE(a->timer.armed());
  EXPECT_EQ(wheel_.Advance(5 * kMs), 1u);
  EXPECT_FALSE(a->timer.armed());
}

TEST_F(TimerWheelTest, SameTickFiresInArmOrderEvenWhenArmedFromDifferentLevels) {
  // All expire at tick 300. A and B are armed while 300 is in another
  // 256-tick block (upper level); C after the cascade (level 0); D was armed
  // first but re-armed last, so it fires last.
  Item* d = Make(4);
  wheel_.Arm(&d->timer, 300 * kMs);
  wheel_.Arm(&Make(1)->timer, 300 * kMs);  // A
  wheel_.Advance(100 * kMs);
  wheel_.Arm(&Make(2)->timer, 300 * kMs);  // B
  wheel_.Advance(260 * kMs);               // past the cascade at 256
  wheel_.Arm(&Make(3)->timer, 300 * kMs);  // C
  wheel_.Arm(&d->timer, 300 * kMs);        // re-arm: moves to the back
  EXPECT_EQ(wheel_.Advance(299 * kMs), 0u);
  EXPECT_EQ(wheel_.Advance(300 * kMs), 4u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{1, 2, 3, 4}));
}

TEST_F(TimerWheelTest, CancelDisarmsAndIsIdempotent) {
  Item* a = Make(1);
  Item* b = Make(2);
  Item* far = Make(3);
  wheel_.Arm(&a->timer, 10 * kMs);
  wheel_.Arm(&b->timer, 10 * kMs);
  wheel_.Arm(&far->timer, 100'000 * kMs);  // upper level
  wheel_.Cancel(&a->timer);
  wheel_.Cancel(&a->timer);  // no-op
  wheel_.Cancel(&far->timer);
  EXPECT_FALSE(a->timer.armed());
  EXPECT_FALSE(far->timer.armed());
  EXPECT_EQ(wheel_.size(), 1u);
  EXPECT_EQ(wheel_.Advance(200'000 * kMs), 1u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{2}));
  Timer never;
  wheel_.Cancel(&never);  // never armed: no-op
  EXPECT_EQ(wheel_.size(), 0u);
  EXPECT_EQ(wheel_.NextExpiryNs(), UINT64_MAX);
}

TEST_F(TimerWheelTest, ReArmEarlierAndLater) {
  Item* a = Make(1);
  Item* b = Make(2);
  Item* c = Make(3);
  wheel_.Arm(&a->timer, 50 * kMs);
  wheel_.Arm(&b->timer, 40 * kMs);
  wheel_.Arm(&c->timer, 70'000 * kMs);
  wheel_.Arm(&a->timer, 80 * kMs);  // later
  wheel_.Arm(&c->timer, 30 * kMs);  // much earlier, from level 2 to level 0
  EXPECT_EQ(wheel_.size(), 3u);
  EXPECT_EQ(wheel_.Advance(100 * kMs), 3u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{3, 2, 1}));
  EXPECT_EQ(rec_.fired[0].at_ns, 30 * kMs);
  EXPECT_EQ(rec_.fired[2].at_ns, 80 * kMs);
  EXPECT_EQ(wheel_.Advance(100'000 * kMs), 0u);
}

TEST_F(TimerWheelTest, ArmInThePastFiresOnTheNextAdvance) {
  wheel_.Advance(1000 * kMs);
  Item* a = Make(1);
  Item* b = Make(2);
  wheel_.Arm(&a->timer, 10 * kMs);
  wheel_.Arm(&b->timer, wheel_.now_ns());
  EXPECT_EQ(a->timer.expires, 1000u);  // clamped to now
  EXPECT_EQ(wheel_.NextExpiryNs(), wheel_.now_ns());
  EXPECT_EQ(wheel_.Advance(wheel_.now_ns()), 2u);  // same time still fires
  EXPECT_EQ(FiredIds(), (std::vector<int>{1, 2}));
  EXPECT_EQ(wheel_.Advance(wheel_.now_ns()), 0u);
}

TEST_F(TimerWheelTest, TimeNeverGoesBackwards) {
  wheel_.Advance(500 * kMs);
  Item* a = Make(1);
  wheel_.Arm(&a->timer, 501 * kMs);
  EXPECT_EQ(wheel_.Advance(100 * kMs), 0u);
  EXPECT_EQ(wheel_.now_ns(), 500 * kMs);
  EXPECT_EQ(wheel_.Advance(501 * kMs), 1u);
}

TEST_F(TimerWheelTest, HandlerReArmsItselfPeriodically) {
  Item* a = Make(1);
  a->on_fire = [this](Item* self) {
    if (rec_.fired.size() < 100) wheel_.ArmAfter(&self->timer, 10 * kMs);
  };
  wheel_.ArmAfter(&a->timer, 10 * kMs);
  EXPECT_EQ(wheel_.Advance(60'000 * kMs), 100u);  // one call, jumps 60 s
  ASSERT_EQ(rec_.fired.size(), 100u);
  for (size_t i = 0; i < rec_.fired.size(); ++i) EXPECT_EQ(rec_.fired[i].at_ns, (i + 1) * 10 * kMs);
  EXPECT_FALSE(a->timer.armed());
}

TEST_F(TimerWheelTest, HandlerArmsOthersDueNowOrLaterInTheSameAdvance) {
  Item* now = Make(2);
  Item* soon = Make(3);
  Item* far = Make(4);
  Item* a = Make(1);
  a->on_fire = [&](Item*) {
    wheel_.Arm(&now->timer, wheel_.now_ns());          // due now: this call
    wheel_.Arm(&soon->timer, wheel_.now_ns() + 300 * kMs);  // within the advance
    wheel_.Arm(&far->timer, wheel_.now_ns() + 10'000 * kMs);  // beyond it
  };
  Item* same_tick = Make(5);  // armed before a, same tick: fires before `now`
  wheel_.Arm(&a->timer, 10 * kMs);
  wheel_.Arm(&same_tick->timer, 10 * kMs);
  EXPECT_EQ(wheel_.Advance(1000 * kMs), 4u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{1, 5, 2, 3}));
  EXPECT_EQ(rec_.fired[2].at_ns, 10 * kMs);
  EXPECT_EQ(rec_.fired[3].at_ns, 310 * kMs);
  EXPECT_TRUE(far->timer.armed());
  EXPECT_EQ(wheel_.size(), 1u);
}

TEST_F(TimerWheelTest, HandlerCancelsATimerDueInTheSameTickAndAnUpperLevelOne) {
  Item* victim = Make(2);
  Item* far = Make(3);
  Item* a = Make(1);
  a->on_fire = [&](Item*) {
    wheel_.Cancel(&victim->timer);
    wheel_.Cancel(&far->timer);
  };
  wheel_.Arm(&a->timer, 10 * kMs);
  wheel_.Arm(&victim->timer, 10 * kMs);
  wheel_.Arm(&far->timer, 20'000 * kMs);
  EXPECT_EQ(wheel_.Advance(100'000 * kMs), 1u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{1}));
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, HandlersAreLookedUpByKind) {
  int other = 0;
  wheel_.SetHandler(7, [](Timer*, void* ctx) { ++*static_cast<int*>(ctx); }, &other);
  Item* a = Make(1);
  Item* b = Make(2);
  b->timer.kind = 7;
  wheel_.Arm(&a->timer, 1 * kMs);
  wheel_.Arm(&b->timer, 1 * kMs);
  EXPECT_EQ(wheel_.Advance(1 * kMs), 2u);
  EXPECT_EQ(FiredIds(), (std::vector<int>{1}));
  EXPECT_EQ(other, 1);
}

// Ticks around every level boundary, armed from tick 0; each must fire at
// exactly its tick whether time moves one tick at a time or in one jump.
std::vector<uint32_t> BoundaryTicks() {
  std::vector<uint32_t> ticks;
  for (uint32_t b : {1u << 8, 1u << 16, 1u << 24}) {
    for (int d = -1; d <= 1; ++d) ticks.push_back(b + d);
  }
  ticks.push_back((1u << 31) - 1);
  ticks.push_back(1u << 31);  // the farthest a timer may be
  ticks.push_back(1);
  ticks.push_back((1u << 16) + (1u << 8) + 1);
  ticks.push_back((3u << 24) + (5u << 16) + (7u << 8) + 9);
  return ticks;
}

TEST_F(TimerWheelTest, CascadesAcrossLevelBoundariesInOneJump) {
  const auto ticks = BoundaryTicks();
  for (size_t i = 0; i < ticks.size(); ++i) wheel_.Arm(&Make(static_cast<int>(i))->timer, ticks[i] * kMs);
  EXPECT_EQ(wheel_.Advance(((uint64_t{1} << 31) + 2) * kMs), ticks.size());
  ASSERT_EQ(rec_.fired.size(), ticks.size());
  auto sorted = ticks;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    EXPECT_EQ(rec_.fired[i].expires, sorted[i]);
    EXPECT_EQ(rec_.fired[i].at_ns, uint64_t{sorted[i]} * kMs);
  }
}

TEST_F(TimerWheelTest, CascadesAcrossLevelBoundariesTickByTickNearBoundaries) {
  const auto ticks = BoundaryTicks();
  for (size_t i = 0; i < ticks.size(); ++i) wheel_.Arm(&Make(static_cast<int>(i))->timer, ticks[i] * kMs);
  auto sorted = ticks;
  std::sort(sorted.begin(), sorted.end());
  // Step one tick at a time across each boundary (jump between them);
  // each single-tick step fires exactly the timers of that tick.
  size_t seen = 0;
  for (uint32_t t : sorted) {
    const uint64_t from = std::max<uint64_t>(t < 2 ? 0 : uint64_t{t} - 2, wheel_.now_ns() / kMs);
    EXPECT_EQ(wheel_.Advance(from * kMs), 0u) << "fired early before tick " << t;
    for (uint64_t tick = from + 1; tick <= uint64_t{t} + 1; ++tick) {
      const size_t before = rec_.fired.size();
      const size_t n = wheel_.Advance(tick * kMs);
      EXPECT_EQ(n, static_cast<size_t>(std::count(sorted.begin(), sorted.end(), tick))) << tick;
      for (size_t i = before; i < rec_.fired.size(); ++i) EXPECT_EQ(rec_.fired[i].expires, tick);
      seen += n;
    }
  }
  EXPECT_EQ(seen, ticks.size());
  EXPECT_EQ(wheel_.size(), 0u);
}

class TimerWheelWrapTest : public TimerWheelTest {
 protected:
  // 300 ticks before the 32-bit tick counter wraps.
  static constexpr uint64_t kStartTick = (uint64_t{1} << 32) - 300;
  TimerWheelWrapTest() : TimerWheelTest(kStartTick * kMs) {}
};

TEST_F(TimerWheelWrapTest, FiresInOrderAcrossTheThirtyTwoBitWrap) {
  const uint64_t deltas[] = {1, 299, 300, 301, 555, 70'000, 20'000'000, uint64_t{1} << 31};
  for (size_t i = 0; i < std::size(deltas); ++i) {
    wheel_.Arm(&Make(static_cast<int>(i))->timer, (kStartTick + deltas[i]) * kMs);
  }
  // Step in uneven chunks so some steps cross the wrap mid-way.
  size_t fired = 0;
  for (uint64_t t = kStartTick; t <= kStartTick + (uint64_t{1} << 31); t += 97 + (t % 1'000'003) * 31) {
    fired += wheel_.Advance(t * kMs);
  }
  fired += wheel_.Advance((kStartTick + (uint64_t{1} << 31)) * kMs);
  EXPECT_EQ(fired, std::size(deltas));
  ASSERT_EQ(rec_.fired.size(), std::size(deltas));
  for (size_t i = 0; i < std::size(deltas); ++i) {
    EXPECT_EQ(rec_.fired[i].id, static_cast<int>(i));
    EXPECT_EQ(rec_.fired[i].at_ns, (kStartTick + deltas[i]) * kMs);
    EXPECT_EQ(rec_.fired[i].expires, static_cast<uint32_t>(kStartTick + deltas[i]));
  }
}

TEST_F(TimerWheelWrapTest, NextExpiryAcrossTheWrap) {
  Item* a = Make(1);
  wheel_.Arm(&a->timer, (kStartTick + 20) * kMs);  // same 256-block: exact
  EXPECT_EQ(wheel_.NextExpiryNs(), (kStartTick + 20) * kMs);
  wheel_.Arm(&a->timer, (kStartTick + 310) * kMs);  // after the wrap
  const uint64_t next = wheel_.NextExpiryNs();
  EXPECT_GT(next, kStartTick * kMs);
  EXPECT_LE(next, (kStartTick + 310) * kMs);
  EXPECT_EQ(wheel_.Advance((kStartTick + 309) * kMs), 0u);
  EXPECT_EQ(wheel_.NextExpiryNs(), (kStartTick + 310) * kMs);
  EXPECT_EQ(wheel_.Advance((kStartTick + 310) * kMs), 1u);
}

TEST_F(TimerWheelTest, ClampsTimersBeyondTwoToTheThirtyOneTicks) {
  wheel_.Advance(12'345 * kMs);
  Item* a = Make(1);
  const uint64_t limit = 12'345 + (uint64_t{1} << 31);
  wheel_.Arm(&a->timer, (uint64_t{1} << 40) * kMs);
  EXPECT_EQ(a->timer.expires, static_cast<uint32_t>(limit));
  EXPECT_EQ(wheel_.Advance((limit - 1) * kMs), 0u);
  EXPECT_EQ(wheel_.Advance(limit * kMs), 1u);
  Item* b = Make(2);
  wheel_.ArmAfter(&b->timer, UINT64_MAX);  // saturates, then clamps
  EXPECT_EQ(b->timer.expires, static_cast<uint32_t>(limit + (uint64_t{1} << 31)));
}

TEST_F(TimerWheelTest, NextExpiryIsExactOnLevelZeroAndALowerBoundAbove) {
  EXPECT_EQ(wheel_.NextExpiryNs(), UINT64_MAX);
  Item* a = Make(1);
  Item* b = Make(2);
  wheel_.Arm(&a->timer, 40'000 * kMs);
  const uint64_t bound = wheel_.NextExpiryNs();
  EXPECT_GT(bound, 0u);
  EXPECT_LE(bound, 40'000 * kMs);
  wheel_.Arm(&b->timer, 17 * kMs);
  EXPECT_EQ(wheel_.NextExpiryNs(), 17 * kMs);
  wheel_.Cancel(&b->timer);
  EXPECT_EQ(wheel_.NextExpiryNs(), bound);
  // A virtual-time driver that steps to NextExpiryNs() reaches the timer
  // exactly, in a few steps, and never fires early.
  int steps = 0;
  while (wheel_.size() > 0) {
    const uint64_t next = wheel_.NextExpiryNs();
    ASSERT_LE(next, 40'000 * kMs);
    wheel_.Advance(next);
    ASSERT_LT(++steps, 10);
  }
  ASSERT_EQ(rec_.fired.size(), 1u);
  EXPECT_EQ(rec_.fired[0].at_ns, 40'000 * kMs);
}

// TIME_WAIT-like timers between 1 s and 120 s; the test advances a
// VirtualClock by 60 s and runs the wheel once.
TEST_F(TimerWheelTest, VirtualClockSixtySecondsFiresExactlyTheTimersDue) {
  VirtualClock clock(1'000 * kNsPerSec);
  TimerWheel wheel(clock.NowNs());
  Recorder rec;
  rec.wheel = &wheel;
  wheel.SetHandler(0, &Recorder::OnTimer, &rec);
  std::mt19937_64 rng(42);
  std::vector<Item> items(10'000);
  size_t due = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].id = static_cast<int>(i);
    const uint64_t delay = kNsPerSec + rng() % (119 * kNsPerSec);
    if (delay <= 60 * kNsPerSec) ++due;
    wheel.ArmAfter(&items[i].timer, delay);
  }
  Item tw;  // exactly 60 s: due
  tw.id = -1;
  wheel.ArmAfter(&tw.timer, 60 * kNsPerSec);
  ++due;

  clock.Advance(60 * kNsPerSec);
  EXPECT_EQ(wheel.Advance(clock.NowNs()), due);
  EXPECT_EQ(rec.fired.size(), due);
  EXPECT_FALSE(tw.timer.armed());
  for (size_t i = 1; i < rec.fired.size(); ++i) ASSERT_LE(rec.fired[i - 1].at_ns, rec.fired[i].at_ns);
  for (const Item& it : items) {
    const bool fired_ = !it.timer.armed();
    EXPECT_EQ(fired_, it.timer.expires <= wheel.TickOf(clock.NowNs())) << it.id;
  }
  EXPECT_EQ(wheel.size(), items.size() + 1 - due);
  // The rest fire by 120 s.
  clock.Advance(60 * kNsPerSec);
  EXPECT_EQ(wheel.Advance(clock.NowNs()), items.size() + 1 - due);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST_F(TimerWheelTest, AMillionTimersFireOnceEachInExpiryOrder) {
  constexpr int kN = 1'000'000;
  std::mt19937 rng(7);
  std::vector<Item> items(kN);
  std::vector<uint32_t> fire_count(kN, 0);
  struct Ctx {
    TimerWheel* wheel;
    std::vector<uint32_t>* count;
    Item* base;
    uint32_t last_tick = 0;
    int last_id = -1;
    bool ordered = true;
    bool on_time = true;
  } ctx{&wheel_, &fire_count, items.data()};
  wheel_.SetHandler(1, [](Timer* t, void* p) {
    auto* c = static_cast<Ctx*>(p);
    const int id = static_cast<int>(reinterpret_cast<Item*>(t) - c->base);
    ++(*c->count)[id];
    // Nondecreasing expiry; same tick: arm order (= id order here).
    if (t->expires < c->last_tick || (t->expires == c->last_tick && id < c->last_id)) c->ordered = false;
    if (uint64_t{t->expires} * kMs != c->wheel->now_ns()) c->on_time = false;
    c->last_tick = t->expires;
    c->last_id = id;
  }, &ctx);
  // Mostly near (RTO/delack-like), some far (keepalive/TIME_WAIT-like).
  for (int i = 0; i < kN; ++i) {
    items[i].timer.kind = 1;
    const uint32_t r = rng();
    const uint64_t tick = (r % 4 == 0) ? rng() % (1u << 24) : rng() % 200'000;
    wheel_.Arm(&items[i].timer, tick * kMs);
  }
  EXPECT_EQ(wheel_.size(), static_cast<size_t>(kN));
  size_t fired = 0;
  uint64_t now = 0;
  while (now < (uint64_t{1} << 24)) {
    now += 1 + rng() % 5000;
    fired += wheel_.Advance(now * kMs);
  }
  EXPECT_EQ(fired, static_cast<size_t>(kN));
  EXPECT_TRUE(ctx.ordered);
  EXPECT_TRUE(ctx.on_time);
  EXPECT_EQ(std::count(fire_count.begin(), fire_count.end(), 1u), kN);
  EXPECT_EQ(wheel_.size(), 0u);
}

// Random arm / re-arm / cancel / advance against a simple ordered model.
TEST_F(TimerWheelTest, MatchesAReferenceModelUnderRandomOperations) {
  constexpr int kN = 3000;
  std::mt19937_64 rng(1234);
  std::vector<Item> items(kN);
  for (int i = 0; i < kN; ++i) items[i].id = i;
  uint64_t seq = 0;
  uint64_t now = 0;
  std::map<std::pair<uint64_t, uint64_t>, int> model;  // (tick, arm seq) -> id
  std::vector<std::pair<uint64_t, uint64_t>> key(kN);
  std::vector<bool> armed(kN, false);
  auto ranges = std::to_array<uint64_t>({3, 300, 70'000, 20'000'000});
  for (int op = 0; op < 200'000; ++op) {
    const int i = static_cast<int>(rng() % kN);
    switch (rng() % 8) {
      case 0: case 1: case 2: case 3: {  // arm / re-arm
        const uint64_t delay = rng() % ranges[rng() % ranges.size()];
        const uint64_t at = now + delay;
        if (armed[i]) model.erase(key[i]);
        wheel_.Arm(&items[i].timer, at * kMs);
        key[i] = {at, seq++};
        model[key[i]] = i;
        armed[i] = true;
        break;
      }
      case 4: {  // cancel
        if (armed[i]) model.erase(key[i]);
        armed[i] = false;
        wheel_.Cancel(&items[i].timer);
        break;
      }
      default: {  // advance
        now += rng() % ranges[rng() % ranges.size()];
        const size_t before = rec_.fired.size();
        const size_t n = wheel_.Advance(now * kMs);
        std::vector<Fired> expect;
        while (!model.empty() && model.begin()->first.first <= now) {
          const auto [k, id] = *model.begin();
          expect.push_back({id, k.first * kMs, static_cast<uint32_t>(k.first)});
          armed[id] = false;
          model.erase(model.begin());
        }
        ASSERT_EQ(n, expect.size()) << "op " << op;
        ASSERT_EQ(std::vector<Fired>(rec_.fired.begin() + before, rec_.fired.end()), expect) << "op " << op;
        break;
      }
    }
    ASSERT_EQ(wheel_.size(), model.size());
    for (int k = 0; k < 3; ++k) {
      const int j = static_cast<int>(rng() % kN);
      ASSERT_EQ(items[j].timer.armed(), armed[j]);
    }
  }
}

}  // namespace
}  // namespace dpx
