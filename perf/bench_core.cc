// lib/core micro-benchmarks: timer wheel arm / cancel / expire rates with a
// million timers armed, arm+cancel churn, and the per-core object pool.
//   bench_core --benchmark_format=json [--benchmark_min_time=0.05]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "core/clock.h"
#include "core/object_pool.h"
#include "core/timer_wheel.h"

namespace dpx {
namespace {

constexpr uint64_t kMs = kNsPerMs;
constexpr size_t kMillion = 1'000'000;

void NoOp(Timer*, void*) {}

// Delays like a TCP stack's: mostly RTO / delayed ACK (ms to seconds), some
// keepalive / TIME_WAIT / FIN_WAIT2 (tens of seconds to hours).
std::vector<uint64_t> TcpLikeDelaysNs(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint64_t> d(n);
  for (uint64_t& x : d) {
    switch (rng() % 8) {
      case 0: x = 60'000 + rng() % 7'200'000; break;  // keepalive-ish
      case 1: x = 60'000; break;                      // TIME_WAIT
      default: x = 1 + rng() % 3'000; break;          // RTO / delack
    }
    x *= kMs;
  }
  return d;
}

struct Fixture {
  explicit Fixture(size_t n) : wheel(0), timers(n), delays(TcpLikeDelaysNs(n, 1)) {
    wheel.SetHandler(0, &NoOp, nullptr);
  }
  void ArmAll() {
    for (size_t i = 0; i < timers.size(); ++i) wheel.Arm(&timers[i], wheel.now_ns() + delays[i]);
  }
  TimerWheel wheel;
  std::vector<Timer> timers;
  std::vector<uint64_t> delays;
};

// Fresh arms into a wheel that fills up to range(0) timers.
void BM_TimerArm(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto f = std::make_unique<Fixture>(n);
  size_t i = 0;
  for (auto _ : state) {
    if (i == n) {
      state.PauseTiming();
      for (Timer& t : f->timers) f->wheel.Cancel(&t);
      i = 0;
      state.ResumeTiming();
    }
    f->wheel.Arm(&f->timers[i], f->delays[i]);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerArm)->Arg(kMillion);

// Re-arm of already armed timers (RTO restart on every ACK), 1M armed.
void BM_TimerReArm(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto f = std::make_unique<Fixture>(n);
  f->ArmAll();
  size_t i = 0;
  for (auto _ : state) {
    f->wheel.Arm(&f->timers[i], f->delays[n - 1 - i]);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerReArm)->Arg(kMillion);

// Cancel out of a wheel holding 1M timers.
void BM_TimerCancel(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  auto f = std::make_unique<Fixture>(n);
  f->ArmAll();
  size_t i = 0;
  for (auto _ : state) {
    if (i == n) {
      state.PauseTiming();
      f->ArmAll();
      i = 0;
      state.ResumeTiming();
    }
    f->wheel.Cancel(&f->timers[i++]);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerCancel)->Arg(kMillion);

// Expiry: 1M timers spread over 60 s, fired by advancing 1 ms at a time
// (a reactor's cadence) or in one 60 s jump. Items = timers fired.
void BM_TimerExpire(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const uint64_t step = static_cast<uint64_t>(state.range(1)) * kMs;
  std::mt19937 rng(3);
  std::vector<uint64_t> delays(n);
  for (uint64_t& d : delays) d = (1 + rng() % 60'000) * kMs;
  auto wheel = std::make_unique<TimerWheel>(0);
  wheel->SetHandler(0, &NoOp, nullptr);
  std::vector<Timer> timers(n);
  size_t fired = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const uint64_t start = wheel->now_ns();
    for (size_t i = 0; i < n; ++i) wheel->Arm(&timers[i], start + delays[i]);
    state.ResumeTiming();
    for (uint64_t t = start + step; t <= start + 60'000 * kMs; t += step) fired += wheel->Advance(t);
  }
  if (fired != n * state.iterations()) state.SkipWithError("not every timer fired");
  state.SetItemsProcessed(static_cast<int64_t>(fired));
}
BENCHMARK(BM_TimerExpire)->Args({kMillion, 1})->Args({kMillion, 60'000})->Unit(benchmark::kMillisecond);

// Arm + cancel of a short timer (delayed ACK sent and cleared) next to 1M
// idle connections' keepalive timers (1 min .. 2 h, so none fires here);
// time moves 1 ms every 1024 pairs.
void BM_TimerArmCancelChurn(benchmark::State& state) {
  auto f = std::make_unique<Fixture>(kMillion);
  std::mt19937 rng(9);
  for (Timer& t : f->timers) f->wheel.Arm(&t, (60'000 + rng() % 7'140'000) * kMs);
  std::vector<Timer> hot(1024);
  uint64_t now = 0;
  size_t i = 0;
  for (auto _ : state) {
    Timer* t = &hot[i];
    f->wheel.Arm(t, now + 40 * kMs);
    f->wheel.Cancel(t);
    if (++i == hot.size()) {
      i = 0;
      now += kMs;
      f->wheel.Advance(now);
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TimerArmCancelChurn);

// Object pool with TCB-sized objects.
struct FakeTcb {
  FakeTcb() : state(1) {}  // a TCB's constructor sets a few fields, not all
  uint32_t state;
  char bytes[444];
};

void BM_PoolAllocFree(benchmark::State& state) {
  ObjectPool<FakeTcb> pool;
  for (auto _ : state) {
    FakeTcb* p = pool.New();
    benchmark::DoNotOptimize(p->state);
    pool.Delete(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PoolAllocFree);

// Bursts: allocate range(0) objects, then free them in shuffled order.
void BM_PoolBurst(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  ObjectPool<FakeTcb> pool;
  std::vector<FakeTcb*> objs(n);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) objs[i] = pool.New();
    for (size_t i : order) pool.Delete(objs[i]);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
  state.counters["bytes_reserved"] = static_cast<double>(pool.bytes_reserved());
}
BENCHMARK(BM_PoolBurst)->Arg(1024)->Arg(kMillion)->Unit(benchmark::kMillisecond);

// The same burst through the system allocator, for reference.
void BM_MallocBurst(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<FakeTcb*> objs(n);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(5));
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) objs[i] = new FakeTcb;
    for (size_t i : order) delete objs[i];
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_MallocBurst)->Arg(1024)->Arg(kMillion)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace dpx

BENCHMARK_MAIN();
