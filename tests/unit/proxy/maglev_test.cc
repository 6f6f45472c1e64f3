// Maglev: the paper's worked example, a golden fingerprint (so every
// appliance and every release builds the same table), shares by weight,
// and the disruption bound when a backend leaves or joins.
#include "proxy/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "net/ipv4_addr.h"

namespace dpx::proxy {
namespace {

std::vector<std::string> Names(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back("10.0.0." + std::to_string(i + 1) + ":80");
  return v;
}

MaglevTable BuildTable(const std::vector<std::string>& names, const std::vector<uint32_t>& weights,
                       uint32_t size) {
  std::vector<MaglevBackend> b;
  for (size_t i = 0; i < names.size(); ++i) b.push_back({names[i], weights[i]});
  MaglevTable t;
  t.Build(b, size);
  return t;
}

std::vector<size_t> Counts(const MaglevTable& t, size_t n) {
  std::vector<size_t> c(n, 0);
  for (int16_t e : t.entries()) c[static_cast<size_t>(e)]++;
  return c;
}

// Table 1 of the paper: M = 7, B0 offset 3 skip 4, B1 offset 0 skip 2,
// B2 offset 3 skip 1 fill the table as B1 B0 B1 B0 B2 B2 B0.
TEST(Maglev, ReproducesThePapersExample) {
  MaglevTable t;
  t.Populate({{3, 4, 1, 0}, {0, 2, 1, 1}, {3, 1, 1, 2}}, 7);
  EXPECT_EQ(t.entries(), (std::vector<int16_t>{1, 0, 1, 0, 2, 2, 0}));
  // B1 removed: B0 claims 3 0 1 2, B2 claims 4 5 6. B1's slots 0 and 2 go
  // to B0; slot 6 moves from B0 to B2 although neither left: the small
  // extra disruption the paper accepts for balance.
  t.Populate({{3, 4, 1, 0}, {3, 1, 1, 2}}, 7);
  EXPECT_EQ(t.entries(), (std::vector<int16_t>{0, 0, 0, 0, 2, 2, 2}));
}

TEST(Maglev, FillsEveryEntryAndEmptyWhenNothingIsUp) {
  const auto names = Names(5);
  MaglevTable t = BuildTable(names, {1, 1, 1, 1, 1}, 1009);
  EXPECT_EQ(t.size(), 1009u);
  EXPECT_FALSE(t.empty());
  for (int16_t e : t.entries()) ASSERT_GE(e, 0);
  MaglevTable none = BuildTable(names, {0, 0, 0, 0, 0}, 1009);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.Lookup(12345), -1);
  EXPECT_EQ(none.LookupClient(Ipv4Addr(1, 2, 3, 4)), -1);
  MaglevTable unbuilt;
  EXPECT_EQ(unbuilt.Lookup(1), -1);
  EXPECT_EQ(unbuilt.LookupAvoiding(1, 0), -1);
}

// The hashes and the table are fixed: a change here changes which backend
// every client of every deployed appliance goes to. Update the constants
// only on purpose, and say so in the release notes. The values were checked
// against an independent implementation (the Python reference in
// docs/proxy-config.md).
TEST(Maglev, GoldenHashesAndTableFingerprint) {
  EXPECT_EQ(MaglevOffsetHash("10.0.0.1:80"), 0x1864d01d3e764c9dULL);
  EXPECT_EQ(MaglevSkipHash("10.0.0.1:80"), 0xb4fcd2e84bb1eebbULL);
  EXPECT_EQ(MaglevClientHash(Ipv4Addr(192, 0, 2, 1)), 0xe3607b6963642e62ULL);
  const MaglevTable t = BuildTable(Names(4), {1, 2, 3, 1}, 65537);
  EXPECT_EQ(t.Fingerprint(), 0x0423ca55273fc733ULL);
  std::vector<int> first;
  for (uint32_t i = 0; i < 16; ++i) first.push_back(t.entry(i));
  EXPECT_EQ(first, (std::vector<int>{2, 2, 1, 2, 3, 1, 2, 1, 1, 2, 2, 3, 0, 2, 2, 1}));
  EXPECT_EQ(t.LookupClient(Ipv4Addr(192, 0, 2, 1)), 1);
}

TEST(Maglev, SameSetBuildsTheSameTableWhateverTheOrder) {
  const auto names = Names(6);
  std::vector<uint32_t> w = {1, 2, 3, 4, 5, 6};
  const MaglevTable a = BuildTable(names, w, 65537);
  std::vector<size_t> perm = {3, 0, 5, 1, 4, 2};
  std::vector<std::string> n2;
  std::vector<uint32_t> w2;
  for (size_t i : perm) {
    n2.push_back(names[i]);
    w2.push_back(w[i]);
  }
  const MaglevTable b = BuildTable(n2, w2, 65537);
  for (uint32_t s = 0; s < a.size(); ++s) {
    ASSERT_EQ(names[static_cast<size_t>(a.entry(s))], n2[static_cast<size_t>(b.entry(s))]) << s;
  }
}

TEST(Maglev, SharesFollowEqualWeights) {
  const int n = 10;
  const auto start = std::chrono::steady_clock::now();
  const MaglevTable t = BuildTable(Names(n), std::vector<uint32_t>(n, 1), 65537);
  std::printf(
      "maglev build: M=65537, %d backends: %.2f ms\n", n,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  const auto c = Counts(t, n);
  const double ideal = 65537.0 / n;
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(static_cast<double>(c[static_cast<size_t>(i)]), ideal, ideal * 0.02) << i;
  }
}

TEST(Maglev, SharesFollowWeights) {
  const std::vector<uint32_t> w = {1, 2, 3, 10, 256, 7};
  const MaglevTable t = BuildTable(Names(6), w, 65537);
  const auto c = Counts(t, 6);
  double total = 0;
  for (uint32_t x : w) total += x;
  for (size_t i = 0; i < w.size(); ++i) {
    const double ideal = 65537.0 * w[i] / total;
    EXPECT_NEAR(static_cast<double>(c[i]), ideal, std::max(ideal * 0.03, 3.0)) << i;
  }
}

TEST(Maglev, ClientsSpreadByWeight) {
  const std::vector<uint32_t> w = {1, 2, 3, 4};
  const MaglevTable t = BuildTable(Names(4), w, 65537);
  std::vector<size_t> c(4, 0);
  std::mt19937 rng(7);
  const int kClients = 200000;
  for (int i = 0; i < kClients; ++i) c[static_cast<size_t>(t.LookupClient(rng()))]++;
  for (size_t i = 0; i < w.size(); ++i) {
    const double ideal = kClients * w[i] / 10.0;
    EXPECT_NEAR(static_cast<double>(c[i]), ideal, ideal * 0.03) << i;
  }
}

// Fraction of slots whose backend (by name) differs between two tables.
double Moved(const MaglevTable& a, const std::vector<std::string>& an, const MaglevTable& b,
             const std::vector<std::string>& bn) {
  size_t moved = 0;
  for (uint32_t s = 0; s < a.size(); ++s) {
    if (an[static_cast<size_t>(a.entry(s))] != bn[static_cast<size_t>(b.entry(s))]) ++moved;
  }
  return static_cast<double>(moved) / a.size();
}

TEST(Maglev, RemovingOneOfNMovesAboutOneNth) {
  for (int n : {5, 10, 20, 50}) {
    const auto names = Names(n);
    const std::vector<uint32_t> w(static_cast<size_t>(n), 1);
    const MaglevTable before = BuildTable(names, w, 65537);
    for (int gone : {0, n / 2, n - 1}) {
      std::vector<uint32_t> w2 = w;
      w2[static_cast<size_t>(gone)] = 0;  // down
      const MaglevTable after = BuildTable(names, w2, 65537);
      const double moved = Moved(before, names, after, names);
      const double share = 1.0 / n;
      std::printf("maglev disruption: %d backends, one down: %.4f of keys moved (its share %.4f)\n",
                  n, moved, share);
      // Its own entries must move; everyone else's mostly stays.
      EXPECT_GE(moved, share * 0.95);
      EXPECT_LE(moved, share + 0.02) << n << " backends, removed " << gone;
      // And nothing of the removed backend is left.
      for (int16_t e : after.entries()) ASSERT_NE(e, gone);
    }
  }
}

TEST(Maglev, AddingABackendTakesAboutItsShare) {
  const int n = 10;
  const auto names = Names(n + 1);
  std::vector<uint32_t> w(n + 1, 1);
  w[n] = 0;
  const MaglevTable before = BuildTable(names, w, 65537);
  w[n] = 1;
  const MaglevTable after = BuildTable(names, w, 65537);
  const double moved = Moved(before, names, after, names);
  std::printf("maglev disruption: %d backends, one added: %.4f of keys moved (its share %.4f)\n", n,
              moved, 1.0 / (n + 1));
  EXPECT_LE(moved, 1.0 / (n + 1) + 0.02);
}

TEST(Maglev, LookupAvoidingWalksToTheNextOtherBackend) {
  MaglevTable t;
  t.Populate({{3, 4, 1, 0}, {0, 2, 1, 1}, {3, 1, 1, 2}}, 7);  // 1 0 1 0 2 2 0
  EXPECT_EQ(t.Lookup(4), 2);
  EXPECT_EQ(t.LookupAvoiding(4, 2), 0);  // slot 5 is 2 too, slot 6 is 0
  EXPECT_EQ(t.LookupAvoiding(6, 0), 1);  // wraps to slot 0
  EXPECT_EQ(t.LookupAvoiding(4, 1), 2);  // not the avoided one: unchanged
  t.Populate({{3, 4, 1, 0}}, 7);
  EXPECT_EQ(t.LookupAvoiding(4, 0), 0);  // the only one
}

TEST(Maglev, NonPrimeSizeStillFillsTheTable) {
  MaglevTable t;
  t.Populate({{0, 2, 1, 0}, {1, 4, 1, 1}}, 8);  // skips share factors with 8
  for (int16_t e : t.entries()) EXPECT_GE(e, 0);
}

}  // namespace
}  // namespace dpx::proxy
