#include "core/object_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

namespace dpx {
namespace {

struct Tracked {
  static inline int live = 0;
  explicit Tracked(int v) : value(v) { ++live; }
  ~Tracked() { --live; }
  int value;
  char payload[52];
};

struct alignas(64) CacheLine {
  uint64_t words[3];
};

TEST(ObjectPoolTest, NewConstructsAndDeleteDestroys) {
  ObjectPool<Tracked> pool;
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.capacity(), 0u);
  EXPECT_EQ(pool.bytes_reserved(), 0u);  // nothing until first use
  Tracked* a = pool.New(7);
  Tracked* b = pool.New(8);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a, b);
  EXPECT_EQ(a->value, 7);
  EXPECT_EQ(b->value, 8);
  EXPECT_EQ(Tracked::live, 2);
  EXPECT_EQ(pool.in_use(), 2u);
  pool.Delete(a);
  EXPECT_EQ(Tracked::live, 1);
  EXPECT_EQ(pool.in_use(), 1u);
  pool.Delete(nullptr);  // no-op
  pool.Delete(b);
  EXPECT_EQ(Tracked::live, 0);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(ObjectPoolTest, ReusesTheMostRecentlyFreedSlotFirst) {
  ObjectPool<Tracked> pool;
  Tracked* a = pool.New(1);
  Tracked* b = pool.New(2);
  pool.Delete(a);
  pool.Delete(b);
  Tracked* c = pool.New(3);
  Tracked* d = pool.New(4);
  EXPECT_EQ(c, b);
  EXPECT_EQ(d, a);
  EXPECT_EQ(pool.chunks(), 1u);
  pool.Delete(c);
  pool.Delete(d);
  EXPECT_EQ(Tracked::live, 0);
}

TEST(ObjectPoolTest, GrowsInDoublingChunksAndReportsCapacityAndBytes) {
  ObjectPoolOptions opts;
  opts.first_chunk_bytes = 64 * 1024;
  opts.max_chunk_bytes = 256 * 1024;
  ObjectPool<Tracked> pool(opts);
  const size_t slot = ObjectPool<Tracked>::slot_bytes();
  EXPECT_GE(slot, sizeof(Tracked));

  std::vector<Tracked*> objs;
  objs.push_back(pool.New(0));
  EXPECT_EQ(pool.chunks(), 1u);
  EXPECT_EQ(pool.bytes_reserved(), 64u * 1024);
  EXPECT_EQ(pool.capacity(), 64 * 1024 / slot);
  while (pool.chunks() == 1) objs.push_back(pool.New(1));
  EXPECT_EQ(objs.size(), 64 * 1024 / slot + 1);  // grew exactly when full
  EXPECT_EQ(pool.bytes_reserved(), (64u + 128u) * 1024);
  while (pool.chunks() < 4) objs.push_back(pool.New(2));
  EXPECT_EQ(pool.bytes_reserved(), (64u + 128u + 256u + 256u) * 1024);  // capped at max_chunk_bytes
  EXPECT_EQ(pool.in_use(), objs.size());
  EXPECT_LE(pool.in_use(), pool.capacity());
  for (Tracked* t : objs) pool.Delete(t);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.peak_in_use(), objs.size());
  EXPECT_EQ(pool.chunks(), 4u);  // memory is kept for reuse
}

TEST(ObjectPoolTest, HardCapRefusesAndNeverReservesPastIt) {
  ObjectPoolOptions opts;
  opts.max_objects = 1000;
  ObjectPool<Tracked> pool(opts);
  std::vector<Tracked*> objs;
  for (int i = 0; i < 1000; ++i) {
    Tracked* t = pool.New(i);
    ASSERT_NE(t, nullptr) << i;
    objs.push_back(t);
  }
  EXPECT_EQ(pool.New(-1), nullptr);
  EXPECT_EQ(pool.Allocate(), nullptr);
  EXPECT_EQ(pool.failures(), 2u);
  EXPECT_EQ(Tracked::live, 1000);
  EXPECT_EQ(pool.capacity(), 1000u);
  EXPECT_LE(pool.bytes_reserved(), 1000 * ObjectPool<Tracked>::slot_bytes());
  pool.Delete(objs.back());
  objs.pop_back();
  Tracked* again = pool.New(5);
  ASSERT_NE(again, nullptr);  // room again after a free
  objs.push_back(again);
  for (Tracked* t : objs) pool.Delete(t);
  EXPECT_EQ(Tracked::live, 0);
}

TEST(ObjectPoolTest, RespectsOverAlignedTypesAndTinyTypes) {
  ObjectPool<CacheLine> lines;
  for (int i = 0; i < 5000; ++i) {
    CacheLine* c = lines.New();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(c) % 64, 0u);
  }
  ObjectPool<char> tiny;
  EXPECT_GE(ObjectPool<char>::slot_bytes(), sizeof(void*));
  char* a = tiny.New('x');
  char* b = tiny.New('y');
  EXPECT_EQ(*a, 'x');
  EXPECT_EQ(*b, 'y');
  tiny.Delete(a);
  EXPECT_EQ(*b, 'y');  // a's free-list link did not spill into b
}

// Random churn: live objects never overlap, keep their contents, and the
// pool returns to baseline (0 in use) with capacity bounded by the peak.
TEST(ObjectPoolTest, ChurnKeepsObjectsDistinctIntactAndReturnsToBaseline) {
  ObjectPool<Tracked> pool;
  std::mt19937 rng(99);
  std::vector<Tracked*> live;
  std::set<const Tracked*> addrs;
  int next = 0;
  for (int op = 0; op < 300'000; ++op) {
    if (live.empty() || rng() % 3 != 0) {
      Tracked* t = pool.New(next++);
      ASSERT_NE(t, nullptr);
      ASSERT_TRUE(addrs.insert(t).second) << "slot handed out twice";
      std::fill(std::begin(t->payload), std::end(t->payload), static_cast<char>(t->value));
      live.push_back(t);
    } else {
      const size_t i = rng() % live.size();
      Tracked* t = live[i];
      for (char c : t->payload) ASSERT_EQ(c, static_cast<char>(t->value));
      addrs.erase(t);
      pool.Delete(t);
      live[i] = live.back();
      live.pop_back();
    }
    ASSERT_EQ(pool.in_use(), live.size());
  }
  const size_t peak = pool.peak_in_use();
  const size_t reserved = pool.bytes_reserved();
  for (Tracked* t : live) pool.Delete(t);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(Tracked::live, 0);
  EXPECT_GE(pool.capacity(), peak);
  // Doubling chunks: never more than about twice the peak (plus a chunk).
  EXPECT_LE(pool.capacity(), 2 * peak + 64 * 1024 / ObjectPool<Tracked>::slot_bytes());
  // Baseline again: a second round of the same size reserves nothing new.
  std::vector<Tracked*> again;
  for (size_t i = 0; i < peak; ++i) again.push_back(pool.New(1));
  EXPECT_EQ(pool.bytes_reserved(), reserved);
  for (Tracked* t : again) pool.Delete(t);
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace dpx
