// Balancers: the smooth weighted round-robin sequence, least connections
// with weights and ties, Maglev affinity, up/down handling, retries.
#include "proxy/balancer.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "net/ipv4_addr.h"

namespace dpx::proxy {
namespace {

PoolConfig Pool(const std::vector<uint32_t>& weights) {
  PoolConfig p;
  p.name = "p";
  for (size_t i = 0; i < weights.size(); ++i) {
    BackendConfig b;
    b.endpoint = {Ipv4Addr(10, 0, 0, static_cast<uint8_t>(i + 1)), 80};
    b.name = FormatEndpoint(b.endpoint);
    b.weight = weights[i];
    p.backends.push_back(b);
  }
  return p;
}

constexpr uint32_t kClient = Ipv4Addr(192, 0, 2, 7);

std::string Sequence(Balancer& b, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    const int k = b.Pick(kClient, 1000);
    s.push_back(k < 0 ? '-' : static_cast<char>('a' + k));
  }
  return s;
}

TEST(RoundRobin, SmoothWeightedSequenceAsNginx) {
  RoundRobinBalancer b(Pool({5, 1, 1}));
  EXPECT_EQ(b.mode(), BalanceMode::kRoundRobin);
  // nginx's documented example for weights 5, 1, 1.
  EXPECT_EQ(Sequence(b, 7), "aabacaa");
  EXPECT_EQ(Sequence(b, 7), "aabacaa");
}

TEST(RoundRobin, EqualWeightsRotate) {
  RoundRobinBalancer b(Pool({1, 1, 1}));
  EXPECT_EQ(Sequence(b, 9), "abcabcabc");
}

TEST(RoundRobin, ExactSharesOverAFullCycle) {
  const std::vector<uint32_t> w = {3, 7, 1, 256, 12};
  RoundRobinBalancer b(Pool(w));
  uint32_t total = 0;
  for (uint32_t x : w) total += x;
  std::vector<uint32_t> c(w.size(), 0);
  for (uint32_t i = 0; i < total * 4; ++i) c[static_cast<size_t>(b.Pick(kClient, 1))]++;
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(c[i], w[i] * 4) << i;
}

TEST(RoundRobin, DownBackendsGetNothingAndAllDownIsMinusOne) {
  RoundRobinBalancer b(Pool({1, 1, 1}));
  b.SetUp(1, false);
  EXPECT_EQ(b.up_count(), 2u);
  EXPECT_FALSE(b.IsUp(1));
  EXPECT_EQ(Sequence(b, 6), "acacac");
  b.SetUp(0, false);
  b.SetUp(2, false);
  EXPECT_EQ(b.up_count(), 0u);
  EXPECT_EQ(b.Pick(kClient, 1), -1);
  b.SetUp(1, true);
  EXPECT_EQ(Sequence(b, 3), "bbb");
  b.SetUp(1, true);  // idempotent
  EXPECT_EQ(b.up_count(), 1u);
}

TEST(RoundRobin, AvoidPicksAnotherWhenOneIsUp) {
  RoundRobinBalancer b(Pool({1, 1}));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.Pick(kClient, 1, 0), 1);
  b.SetUp(1, false);
  EXPECT_EQ(b.Pick(kClient, 1, 0), 0);  // the only one up
}

TEST(LeastConn, PicksTheFewestActivePerWeight) {
  LeastConnBalancer b(Pool({1, 1, 1}));
  EXPECT_EQ(b.mode(), BalanceMode::kLeastConn);
  // Long sessions: each pick starts one; the picks spread evenly.
  for (int i = 0; i < 30; ++i) b.OnSessionStart(b.Pick(kClient, 1));
  EXPECT_EQ(b.active(0), 10u);
  EXPECT_EQ(b.active(1), 10u);
  EXPECT_EQ(b.active(2), 10u);
  // Backend 1 sheds sessions: it gets the next ones.
  for (int i = 0; i < 5; ++i) b.OnSessionEnd(1);
  for (int i = 0; i < 5; ++i) {
    const int k = b.Pick(kClient, 1);
    EXPECT_EQ(k, 1);
    b.OnSessionStart(k);
  }
  b.OnSessionEnd(2);
  EXPECT_EQ(b.Pick(kClient, 1), 2);
}

TEST(LeastConn, WeightedLongSessionsSettleInProportion) {
  const std::vector<uint32_t> w = {1, 2, 5};
  LeastConnBalancer b(Pool(w));
  for (int i = 0; i < 800; ++i) b.OnSessionStart(b.Pick(kClient, 1));
  EXPECT_EQ(b.active(0), 100u);
  EXPECT_EQ(b.active(1), 200u);
  EXPECT_EQ(b.active(2), 500u);
}

TEST(LeastConn, ShortSessionsTiesFollowWeights) {
  // Every session ends before the next starts: all counts stay 0, so every
  // pick is a tie; ties go by smooth weighted round robin.
  LeastConnBalancer b(Pool({5, 1, 1}));
  std::string s;
  for (int i = 0; i < 14; ++i) {
    const int k = b.Pick(kClient, 1);
    b.OnSessionStart(k);
    b.OnSessionEnd(k);
    s.push_back(static_cast<char>('a' + k));
  }
  EXPECT_EQ(s, "aabacaaaabacaa");
}

TEST(LeastConn, TiesAreDeterministic) {
  LeastConnBalancer a(Pool({2, 3, 1, 4}));
  LeastConnBalancer b(Pool({2, 3, 1, 4}));
  std::mt19937 rng(1);
  std::vector<int> open;
  for (int i = 0; i < 2000; ++i) {
    if (!open.empty() && rng() % 3 == 0) {
      const size_t j = rng() % open.size();
      a.OnSessionEnd(open[j]);
      b.OnSessionEnd(open[j]);
      open.erase(open.begin() + static_cast<long>(j));
      continue;
    }
    const int ka = a.Pick(kClient, 1);
    const int kb = b.Pick(kClient, 1);
    ASSERT_EQ(ka, kb) << i;
    a.OnSessionStart(ka);
    b.OnSessionStart(kb);
    open.push_back(ka);
  }
}

TEST(LeastConn, DownBackendsAndAvoid) {
  LeastConnBalancer b(Pool({1, 1, 1}));
  b.SetUp(0, false);
  for (int i = 0; i < 10; ++i) {
    const int k = b.Pick(kClient, 1);
    EXPECT_NE(k, 0);
    b.OnSessionStart(k);
  }
  // Backend 1 has the fewest after this, but a retry avoids it.
  b.OnSessionEnd(1);
  EXPECT_EQ(b.Pick(kClient, 1), 1);
  EXPECT_EQ(b.Pick(kClient, 1, 1), 2);
  b.SetUp(1, false);
  b.SetUp(2, false);
  EXPECT_EQ(b.Pick(kClient, 1), -1);
  // Ending more sessions than started never underflows.
  LeastConnBalancer c(Pool({1}));
  c.OnSessionEnd(0);
  EXPECT_EQ(c.active(0), 0u);
}

TEST(MaglevBalancerTest, SameClientSameBackendAnyPortAnyInstance) {
  const PoolConfig pool = Pool({1, 1, 1, 1, 1});
  MaglevBalancer a(pool);
  MaglevBalancer b(pool);  // another core, or another appliance
  EXPECT_EQ(a.mode(), BalanceMode::kMaglev);
  std::mt19937 rng(3);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t client = rng();
    const int k = a.Pick(client, 1000);
    ASSERT_GE(k, 0);
    EXPECT_EQ(a.Pick(client, 2000), k);
    EXPECT_EQ(b.Pick(client, 3000), k);
  }
}

TEST(MaglevBalancerTest, DownBackendMovesOnlyItsClients) {
  const PoolConfig pool = Pool({1, 1, 1, 1, 1, 1, 1, 1});
  MaglevBalancer b(pool);
  std::mt19937 rng(5);
  std::vector<uint32_t> clients(20000);
  for (uint32_t& c : clients) c = rng();
  std::vector<int> before;
  for (uint32_t c : clients) before.push_back(b.Pick(c, 1));
  b.SetUp(3, false);
  EXPECT_EQ(b.rebuilds(), 1u);  // lazily, on the next pick
  size_t moved_others = 0, moved = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    const int k = b.Pick(clients[i], 1);
    ASSERT_NE(k, 3);
    if (k != before[i]) {
      ++moved;
      if (before[i] != 3) ++moved_others;
    }
  }
  EXPECT_EQ(b.rebuilds(), 2u);
  // ~1/8 move (the down backend's clients); few of anyone else's.
  EXPECT_LT(static_cast<double>(moved) / clients.size(), 1.0 / 8 + 0.02);
  EXPECT_LT(static_cast<double>(moved_others) / clients.size(), 0.02);
  // Back up: the table is the original again, so every client returns.
  b.SetUp(3, true);
  for (size_t i = 0; i < clients.size(); ++i) ASSERT_EQ(b.Pick(clients[i], 1), before[i]);
}

TEST(MaglevBalancerTest, SharesByWeightAndAllDown) {
  MaglevBalancer b(Pool({1, 3}));
  std::mt19937 rng(9);
  int c[2] = {0, 0};
  for (int i = 0; i < 100000; ++i) c[b.Pick(rng(), 1)]++;
  EXPECT_NEAR(c[1] / 100000.0, 0.75, 0.02);
  b.SetUp(0, false);
  b.SetUp(1, false);
  EXPECT_EQ(b.Pick(kClient, 1), -1);
  b.SetUp(0, true);
  EXPECT_EQ(b.Pick(kClient, 1), 0);
}

TEST(MaglevBalancerTest, RetryAvoidsTheFailedBackendDeterministically) {
  const PoolConfig pool = Pool({1, 1, 1});
  MaglevBalancer a(pool);
  MaglevBalancer b(pool);
  const int first = a.Pick(kClient, 1);
  const int second = a.Pick(kClient, 1, first);
  EXPECT_NE(second, first);
  EXPECT_GE(second, 0);
  EXPECT_EQ(b.Pick(kClient, 1, first), second);
}

TEST(Balancer, FactoryAndNames) {
  const PoolConfig pool = Pool({1, 2});
  for (BalanceMode m : {BalanceMode::kRoundRobin, BalanceMode::kLeastConn, BalanceMode::kMaglev}) {
    auto b = MakeBalancer(m, pool);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->mode(), m);
    EXPECT_EQ(b->size(), 2u);
    EXPECT_EQ(b->weight(1), 2u);
    EXPECT_EQ(b->name(0), "10.0.0.1:80");
    BalanceMode parsed;
    ASSERT_TRUE(ParseBalanceMode(BalanceModeName(m), &parsed));
    EXPECT_EQ(parsed, m);
  }
  BalanceMode x;
  EXPECT_FALSE(ParseBalanceMode("random", &x));
}

}  // namespace
}  // namespace dpx::proxy
