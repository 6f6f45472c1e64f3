// RSS-aware local ports: the software Toeplitz hash matches the published
// verification values (so it matches the NICs), the symmetric key hashes
// both directions of a flow alike, and the picker only hands out ports
// whose reply lands on its core, skipping ports that are taken.
#include "proxy/rss_port.h"

#include <cerrno>
#include <set>

#include <gtest/gtest.h>

#include "net/ipv4_addr.h"
#include "net/port_profile.h"

namespace dpx::proxy {
namespace {

// The Microsoft RSS verification key and IPv4/TCP vectors (also DPDK's
// test_thash.c).
const std::vector<uint8_t> kMsKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

TEST(ToeplitzHash, MatchesTheVerificationSuite) {
  struct V {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t hash;
  };
  const V vs[] = {
      {Ipv4Addr(66, 9, 149, 187), Ipv4Addr(161, 142, 100, 80), 2794, 1766, 0x51ccc178},
      {Ipv4Addr(199, 92, 111, 2), Ipv4Addr(65, 69, 140, 83), 14230, 4739, 0xc626b0ea},
      {Ipv4Addr(24, 19, 198, 95), Ipv4Addr(12, 22, 207, 184), 12898, 38024, 0x5c2b394a},
      {Ipv4Addr(38, 27, 205, 30), Ipv4Addr(209, 142, 163, 6), 48228, 2217, 0xafc7327f},
      {Ipv4Addr(153, 39, 163, 191), Ipv4Addr(202, 188, 127, 2), 44251, 1303, 0x10e828a2},
  };
  for (const V& v : vs)
    EXPECT_EQ(ToeplitzHashV4(kMsKey, v.src, v.dst, v.sport, v.dport), v.hash);
}

TEST(ToeplitzHash, SymmetricKeyHashesBothDirectionsAlike) {
  const std::vector<uint8_t> key = SymmetricRssKey(40);
  for (uint16_t p = 1000; p < 1100; ++p) {
    const uint32_t a = Ipv4Addr(10, 0, 0, 1), b = Ipv4Addr(192, 168, 7, 9);
    EXPECT_EQ(ToeplitzHashV4(key, a, b, p, 80), ToeplitzHashV4(key, b, a, 80, p));
  }
  // The MS key is not symmetric: the picker must hash the reply direction.
  EXPECT_NE(ToeplitzHashV4(kMsKey, Ipv4Addr(1, 2, 3, 4), Ipv4Addr(5, 6, 7, 8), 1000, 80),
            ToeplitzHashV4(kMsKey, Ipv4Addr(5, 6, 7, 8), Ipv4Addr(1, 2, 3, 4), 80, 1000));
}

TEST(RssPortPicker, OneQueueTakesAnyPort) {
  RssSpec spec;
  spec.key = SymmetricRssKey(40);
  RssPortPicker picker(spec, 0);
  EXPECT_FALSE(picker.active());
  EXPECT_TRUE(picker.ReplyLandsHere(Ipv4Addr(10, 0, 0, 1), 40000, Ipv4Addr(10, 0, 0, 2), 80));
}

class PickerOnCores : public ::testing::TestWithParam<std::vector<uint8_t>> {};

TEST_P(PickerOnCores, EveryPortPickedLandsOnItsCore) {
  const uint32_t local = Ipv4Addr(10, 0, 0, 1);
  const uint32_t backend = Ipv4Addr(10, 1, 2, 3);
  for (uint16_t queues : {2, 4, 8}) {
    for (unsigned core = 0; core < queues; ++core) {
      RssSpec spec;
      spec.key = GetParam();
      spec.queues = queues;
      RssPortPicker picker(spec, core, 32768, 60999);
      ASSERT_TRUE(picker.active());
      std::set<uint16_t> taken;
      for (int i = 0; i < 200; ++i) {
        const int p = picker.Pick(local, backend, 8080, [&](uint16_t port) {
          return taken.insert(port).second ? 0 : -EADDRINUSE;
        });
        ASSERT_GT(p, 0);
        // The reply (backend -> proxy) hashes to this core's queue.
        const uint32_t h = ToeplitzHashV4(spec.key, backend, local, 8080, static_cast<uint16_t>(p));
        EXPECT_EQ(h % queues, core) << "port " << p;
        EXPECT_TRUE(picker.ReplyLandsHere(local, static_cast<uint16_t>(p), backend, 8080));
      }
      EXPECT_EQ(taken.size(), 200u);
      // About `queues` candidates hashed per pick.
      EXPECT_LT(picker.hashed(), 200u * queues * 3);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Keys, PickerOnCores,
                         ::testing::Values(SymmetricRssKey(40), SymmetricRssKey(52), kMsKey));

TEST(RssPortPicker, QueuesPerCoreAndReta) {
  RssSpec spec;
  spec.key = SymmetricRssKey(40);
  spec.queues = 8;
  spec.queues_per_core = 2;  // core 1 polls queues 2 and 3
  RssPortPicker picker(spec, 1);
  EXPECT_EQ(picker.CoreOfHash(2), 1u);
  EXPECT_EQ(picker.CoreOfHash(3), 1u);
  EXPECT_EQ(picker.CoreOfHash(4), 2u);
  EXPECT_EQ(picker.CoreOfHash(8 + 3), 1u);

  // A RETA of 512 entries over 3 queues (i40e-like): hash % 3 would be wrong.
  RssSpec r;
  r.key = SymmetricRssKey(40);
  r.queues = 3;
  for (int i = 0; i < 512; ++i) r.reta.push_back(static_cast<uint16_t>(i % 3));
  RssPortPicker rp(r, 2);
  EXPECT_EQ(rp.QueueOfHash(512 + 5), 5 % 3);
  EXPECT_EQ(rp.QueueOfHash(1024 + 511), 511 % 3);
  const uint32_t local = Ipv4Addr(10, 0, 0, 1), backend = Ipv4Addr(10, 0, 0, 9);
  for (int i = 0; i < 50; ++i) {
    const int p = rp.Pick(local, backend, 443, [](uint16_t) { return 0; });
    ASSERT_GT(p, 0);
    const uint32_t h = ToeplitzHashV4(r.key, backend, local, 443, static_cast<uint16_t>(p));
    EXPECT_EQ(r.reta[h % 512], 2);
  }
}

TEST(RssPortPicker, ExhaustedRangeAndBindErrors) {
  RssSpec spec;
  spec.key = SymmetricRssKey(40);
  spec.queues = 2;
  RssPortPicker picker(spec, 0, 40000, 40015);
  const uint32_t local = Ipv4Addr(10, 0, 0, 1), backend = Ipv4Addr(10, 0, 0, 2);
  EXPECT_EQ(picker.Pick(local, backend, 80, [](uint16_t) { return -EADDRINUSE; }), -EADDRNOTAVAIL);
  EXPECT_EQ(picker.Pick(local, backend, 80, [](uint16_t) { return -EINVAL; }), -EINVAL);
  // The cursor moves on: consecutive picks give different ports.
  const int a = picker.Pick(local, backend, 80, [](uint16_t) { return 0; });
  const int b = picker.Pick(local, backend, 80, [](uint16_t) { return 0; });
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  EXPECT_NE(a, b);
  EXPECT_GE(a, 40000);
  EXPECT_LE(a, 40015);
}

}  // namespace
}  // namespace dpx::proxy
