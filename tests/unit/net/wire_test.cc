// The in-memory wire: delivery, delay under virtual time, the hooks
// (drop, duplicate, reorder, corrupt, delay), random loss, capture.
#include <gtest/gtest.h>

#include "net_harness.h"

namespace dpx::testing {
namespace {

class WireTest : public ::testing::Test {
 protected:
  WireTest() : wire_(clock_, TestPool(), OneStackConfig()) {}
  static WireConfig OneStackConfig() {
    WireConfig c;
    c.a.mac = kMacA;
    c.b.mac = kMacB;
    return c;
  }
  // Sends frames tagged 0..n-1 (first payload byte) from A.
  void SendTagged(int n, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      Bytes f(60, 0);
      f[14] = static_cast<uint8_t>(i);
      rte_mbuf* m = ToMbuf(f);
      ASSERT_EQ(wire_.a().TxBurst(&m, 1), 1);
    }
  }
  // Tags of the frames B receives now.
  std::vector<int> ReceiveTags() {
    std::vector<int> tags;
    rte_mbuf* pkts[32];
    uint16_t n;
    while ((n = wire_.b().RxBurst(pkts, 32)) > 0) {
      for (uint16_t i = 0; i < n; ++i) {
        tags.push_back(rte_pktmbuf_mtod(pkts[i], uint8_t*)[14]);
        last_.push_back(ToBytes(pkts[i]));
        rte_pktmbuf_free(pkts[i]);
      }
    }
    return tags;
  }

  VirtualClock clock_{1'000'000};
  Wire wire_;
  std::vector<Bytes> last_;
};

TEST_F(WireTest, DeliversInOrderToTheOtherEnd) {
  SendTagged(3);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0, 1, 2}));
  rte_mbuf* pkts[4];
  EXPECT_EQ(wire_.a().RxBurst(pkts, 4), 0);  // nothing comes back
  EXPECT_EQ(wire_.a().mtu(), 1500);
  EXPECT_EQ(wire_.a().tx_offloads(), 0u);
  EXPECT_TRUE(MacEqual(wire_.b().mac(), kMacB));
}

TEST_F(WireTest, DelayUnderVirtualTime) {
  wire_.set_delay(5'000);
  SendTagged(1);
  EXPECT_TRUE(ReceiveTags().empty());
  clock_.Advance(4'999);
  EXPECT_TRUE(ReceiveTags().empty());
  EXPECT_EQ(wire_.NextDeliveryNs(), 1'005'000u);
  clock_.Advance(1);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0}));
}

TEST_F(WireTest, DropsAChosenFrame) {
  wire_.DropAt(WireDir::kAtoB, 1);
  SendTagged(3);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0, 2}));
  EXPECT_EQ(wire_.captured()[1].fate, WireFate::kDropped);
}

TEST_F(WireTest, DropsByPredicate) {
  wire_.AddRule(WireRule{WireDir::kAtoB, WireAction::kDrop, -1,
                         [](const rte_mbuf* m, uint64_t) {
                           return rte_pktmbuf_mtod(m, const uint8_t*)[14] % 2 == 1;
                         },
                         2, -1, 0});
  SendTagged(6);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0, 2, 4, 5}));  // only 2 matches
}

TEST_F(WireTest, DuplicatesAFrame) {
  wire_.DuplicateAt(WireDir::kAtoB, 0);
  SendTagged(2);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0, 0, 1}));
}

TEST_F(WireTest, ReordersAFrameAfterTheNextOne) {
  wire_.ReorderAt(WireDir::kAtoB, 1);
  SendTagged(4);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0, 2, 1, 3}));
}

TEST_F(WireTest, HeldFrameCanBeReleased) {
  wire_.ReorderAt(WireDir::kAtoB, 0);
  SendTagged(1);
  EXPECT_TRUE(ReceiveTags().empty());
  wire_.ReleaseHeld(WireDir::kAtoB);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0}));
}

TEST_F(WireTest, CorruptsOneByte) {
  wire_.CorruptAt(WireDir::kAtoB, 0, 14);
  SendTagged(1, 0x0f);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0xf0}));
  // The capture keeps the frame as it was sent.
  EXPECT_EQ(wire_.captured()[0].bytes[14], 0x0f);
  EXPECT_EQ(wire_.captured()[0].fate, WireFate::kCorrupted);
}

TEST_F(WireTest, DelaysOneFrame) {
  wire_.DelayAt(WireDir::kAtoB, 0, 1'000);
  SendTagged(2);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{1}));
  clock_.Advance(1'000);
  EXPECT_EQ(ReceiveTags(), (std::vector<int>{0}));
}

TEST_F(WireTest, CaptureRecordsDirectionTimeAndBytes) {
  SendTagged(1);
  clock_.Advance(7);
  Bytes f(60, 0x33);
  rte_mbuf* m = ToMbuf(f);
  wire_.b().TxBurst(&m, 1);
  ASSERT_EQ(wire_.captured().size(), 2u);
  EXPECT_EQ(wire_.captured()[0].dir, WireDir::kAtoB);
  EXPECT_EQ(wire_.captured()[0].sent_ns, 1'000'000u);
  EXPECT_EQ(wire_.captured()[1].dir, WireDir::kBtoA);
  EXPECT_EQ(wire_.captured()[1].sent_ns, 1'000'007u);
  EXPECT_EQ(wire_.captured()[1].index, 0u);
  EXPECT_EQ(wire_.captured()[1].bytes, f);
  rte_mbuf* pkts[2];
  ASSERT_EQ(wire_.a().RxBurst(pkts, 2), 1);
  rte_pktmbuf_free(pkts[0]);
  ReceiveTags();
}

TEST_F(WireTest, RandomLossIsReproducible) {
  auto run = [&](uint64_t seed) {
    wire_.SetRandom(0.3, 0.0, seed);
    SendTagged(100);
    return ReceiveTags();
  };
  const auto first = run(42);
  const auto second = run(42);
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), 50u);
  EXPECT_LT(first.size(), 90u);
}

TEST_F(WireTest, RandomReorderKeepsEveryFrame) {
  wire_.SetRandom(0.0, 0.2, 7);
  SendTagged(100);
  wire_.ReleaseHeld(WireDir::kAtoB);
  auto tags = ReceiveTags();
  ASSERT_EQ(tags.size(), 100u);
  EXPECT_FALSE(std::is_sorted(tags.begin(), tags.end()));
  std::sort(tags.begin(), tags.end());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(tags[i], i);
}

TEST_F(WireTest, WakeupStopsVirtualTimeAtDelivery) {
  Counters mib;
  Reactor r(0, &clock_, &mib);
  uint64_t got_at = 0;
  r.AddPoller([&] {
    rte_mbuf* m;
    if (wire_.b().RxBurst(&m, 1) == 0) return 0u;
    got_at = r.now_ns();
    rte_pktmbuf_free(m);
    return 1u;
  });
  wire_.SetWakeup(&r.timers(), kWakeKind);
  wire_.set_delay(3'000'000);
  SendTagged(1);
  RunVirtualUntil(clock_, {&r}, clock_.NowNs() + 10'000'000);
  EXPECT_EQ(got_at, 4'000'000u);
  wire_.SetWakeup(nullptr, 0);
}

}  // namespace
}  // namespace dpx::testing
