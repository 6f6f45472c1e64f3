#include "tcp/isn.h"

#include <gtest/gtest.h>

#include <set>

#include "tcp/siphash.h"

namespace dpx::tcp {
namespace {

SipKey ReferenceKey() {
  // Key 00 01 .. 0f of the SipHash paper's test vectors.
  uint8_t k[16];
  for (int i = 0; i < 16; ++i) k[i] = static_cast<uint8_t>(i);
  SipKey key;
  for (int i = 7; i >= 0; --i) key.k0 = (key.k0 << 8) | k[i];
  for (int i = 15; i >= 8; --i) key.k1 = (key.k1 << 8) | k[i];
  return key;
}

TEST(SipHashTest, ReferenceVectors) {
  const SipKey key = ReferenceKey();
  uint8_t msg[64];
  for (int i = 0; i < 64; ++i) msg[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(SipHash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(key, msg, 15), 0xa129ca6149be45e5ULL);  // the paper's example
}

TEST(SipHashTest, WordHelpersMatchByteHash) {
  const SipKey key = SipKeyFromSeed(42);
  const uint32_t w[4] = {0x0a000001u, 0xc0a80102u, 0x1f90c350u, 77u};
  uint8_t bytes[16];
  for (int i = 0; i < 4; ++i)
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<uint8_t>(w[i] >> (8 * b));
  EXPECT_EQ(SipHash2u32(key, w[0], w[1]), SipHash24(key, bytes, 8));
  EXPECT_EQ(SipHash3u32(key, w[0], w[1], w[2]), SipHash24(key, bytes, 12));
  EXPECT_EQ(SipHash4u32(key, w[0], w[1], w[2], w[3]), SipHash24(key, bytes, 16));
}

TEST(SipHashTest, KeysFromSeeds) {
  const SipKey a = SipKeyFromSeed(1), b = SipKeyFromSeed(1), c = SipKeyFromSeed(2);
  EXPECT_EQ(a.k0, b.k0);
  EXPECT_EQ(a.k1, b.k1);
  EXPECT_NE(a.k0, c.k0);
  EXPECT_NE(SipHash24(a, "x", 1), SipHash24(c, "x", 1));
  const SipKey r1 = RandomSipKey(), r2 = RandomSipKey();
  EXPECT_FALSE(r1.k0 == r2.k0 && r1.k1 == r2.k1);
}

constexpr uint32_t kLocal = 0x0a000001;   // 10.0.0.1
constexpr uint32_t kRemote = 0x0a000002;  // 10.0.0.2

TEST(IsnTest, AdvancesWithClockAt64ns) {
  const IsnGenerator g = IsnGenerator::FromSeed(7);
  const uint64_t t = 1'000'000'000'000ULL;
  const uint32_t a = g.Seq(kLocal, kRemote, 80, 40000, t);
  EXPECT_EQ(g.Seq(kLocal, kRemote, 80, 40000, t), a);  // deterministic
  EXPECT_EQ(g.Seq(kLocal, kRemote, 80, 40000, t + 64'000) - a, 1000u);
  EXPECT_EQ(g.Seq(kLocal, kRemote, 80, 40000, t + 1'000'000'000) - a, 15'625'000u);
  // Sequence space wraps every 2^32 * 64 ns (about 274.9 s).
  EXPECT_EQ(g.Seq(kLocal, kRemote, 80, 40000, t + (uint64_t{1} << 38)), a);
}

TEST(IsnTest, MonotonicForOneTupleOverAnMsl) {
  const IsnGenerator g = IsnGenerator::FromSeed(7);
  uint64_t t = 5'000'000'000ULL;
  uint32_t prev = g.Seq(kLocal, kRemote, 80, 40000, t);
  for (int i = 0; i < 120; ++i) {  // 2 minutes, 1 s apart
    t += 1'000'000'000ULL;
    const uint32_t next = g.Seq(kLocal, kRemote, 80, 40000, t);
    EXPECT_GT(next - prev, 0u);
    EXPECT_LT(next - prev, 0x80000000u);  // "after" in sequence space
    prev = next;
  }
}

TEST(IsnTest, DiffersPerTupleAndKey) {
  const IsnGenerator g = IsnGenerator::FromSeed(7);
  const uint64_t t = 123'456'789;
  std::set<uint32_t> seen;
  for (uint16_t port = 40000; port < 41000; ++port) seen.insert(g.Seq(kLocal, kRemote, 80, port, t));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_NE(g.Seq(kLocal, kRemote, 80, 40000, t), g.Seq(kRemote, kLocal, 80, 40000, t));
  EXPECT_NE(g.Seq(kLocal, kRemote, 80, 40000, t), g.Seq(kLocal, kRemote, 40000, 80, t));
  EXPECT_NE(g.Seq(kLocal, kRemote, 80, 40000, t), g.Seq(kLocal, kRemote + 1, 80, 40000, t));
  const IsnGenerator h = IsnGenerator::FromSeed(8);
  EXPECT_NE(g.Seq(kLocal, kRemote, 80, 40000, t), h.Seq(kLocal, kRemote, 80, 40000, t));
}

TEST(IsnTest, TimestampOffsetPerHostPair) {
  const IsnGenerator g = IsnGenerator::FromSeed(7);
  const uint32_t off = g.TsOff(kLocal, kRemote);
  EXPECT_EQ(g.TsOff(kLocal, kRemote), off);
  EXPECT_NE(g.TsOff(kLocal, kRemote + 1), off);
  EXPECT_NE(g.TsOff(kRemote, kLocal), off);
  // Independent of the ISN secret: not the ISN's hash.
  EXPECT_NE(off, g.Seq(kLocal, kRemote, 0, 0, 0));
  const IsnGenerator r1 = IsnGenerator::Random(), r2 = IsnGenerator::Random();
  EXPECT_NE(r1.TsOff(kLocal, kRemote), r2.TsOff(kLocal, kRemote));
}

}  // namespace
}  // namespace dpx::tcp
