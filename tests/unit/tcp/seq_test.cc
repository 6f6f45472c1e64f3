#include "tcp/seq.h"

#include <gtest/gtest.h>

namespace dpx::tcp {
namespace {

TEST(SeqTest, BeforeAfterPlain) {
  EXPECT_TRUE(SeqBefore(1, 2));
  EXPECT_FALSE(SeqBefore(2, 1));
  EXPECT_FALSE(SeqBefore(5, 5));
  EXPECT_TRUE(SeqAfter(2, 1));
  EXPECT_FALSE(SeqAfter(5, 5));
  EXPECT_TRUE(SeqBeforeEq(5, 5));
  EXPECT_TRUE(SeqAfterEq(5, 5));
  EXPECT_FALSE(SeqAfterEq(4, 5));
}

TEST(SeqTest, BeforeAfterAcrossWrap) {
  EXPECT_TRUE(SeqBefore(0xfffffff0u, 0x10u));
  EXPECT_TRUE(SeqAfter(0x10u, 0xfffffff0u));
  EXPECT_FALSE(SeqAfter(0xfffffff0u, 0x10u));
  EXPECT_TRUE(SeqBefore(0xffffffffu, 0u));
  EXPECT_EQ(SeqDiff(0x10u, 0xfffffff0u), 0x20);
  EXPECT_EQ(SeqDiff(0xfffffff0u, 0x10u), -0x20);
  EXPECT_EQ(SeqMax(0xfffffff0u, 0x10u), 0x10u);
  EXPECT_EQ(SeqMin(0xfffffff0u, 0x10u), 0xfffffff0u);
}

TEST(SeqTest, HalfSpaceApartIsBeforeBothWays) {
  // Linux before() on numbers 2^31 apart: the signed difference is INT_MIN
  // either way.
  const uint32_t a = 1000, b = a + 0x80000000u;
  EXPECT_TRUE(SeqBefore(a, b));
  EXPECT_TRUE(SeqBefore(b, a));
  // Just under half: ordered.
  EXPECT_TRUE(SeqBefore(a, a + 0x7fffffffu));
  EXPECT_FALSE(SeqBefore(a + 0x7fffffffu, a));
}

TEST(SeqTest, BetweenInclusiveAndWrapping) {
  EXPECT_TRUE(SeqBetween(5, 5, 10));
  EXPECT_TRUE(SeqBetween(10, 5, 10));
  EXPECT_FALSE(SeqBetween(4, 5, 10));
  EXPECT_FALSE(SeqBetween(11, 5, 10));
  // Window straddling 2^32.
  EXPECT_TRUE(SeqBetween(0xfffffff8u, 0xfffffff0u, 0x10u));
  EXPECT_TRUE(SeqBetween(0x5u, 0xfffffff0u, 0x10u));
  EXPECT_FALSE(SeqBetween(0x11u, 0xfffffff0u, 0x10u));
  EXPECT_FALSE(SeqBetween(0xffffffefu, 0xfffffff0u, 0x10u));
  // Spans wider than 2^31 still work (before/after pairs would not).
  EXPECT_TRUE(SeqBetween(0xc0000000u, 0u, 0xf0000000u));
  EXPECT_FALSE(SeqBetween(0xf0000001u, 0u, 0xf0000000u));
}

TEST(SeqTest, TimestampsCompareAcrossWrap) {
  EXPECT_TRUE(TsAfter(5u, 0xfffffffbu));
  EXPECT_TRUE(TsBefore(0xfffffffbu, 5u));
  EXPECT_FALSE(TsAfter(7u, 7u));
  EXPECT_FALSE(TsBefore(7u, 7u));
  EXPECT_EQ(TsDiff(5u, 0xfffffffbu), 10);
}

TEST(WindowScaleTest, ScaleUnscaleRoundTrip) {
  for (uint8_t ws = 0; ws <= TCP_MAX_WSCALE; ++ws) {
    for (uint32_t field : {0u, 1u, 2u, 100u, 32767u, 65534u, 65535u}) {
      const uint32_t bytes = ScaleWindow(static_cast<uint16_t>(field), ws);
      EXPECT_EQ(bytes, field << ws);
      EXPECT_EQ(UnscaleWindow(bytes, ws), field) << "ws " << int{ws};
    }
    // Unscale truncates: what the peer sees is never more than offered.
    for (uint32_t bytes : {1u, 1000u, 65536u, 1000001u, 8388607u}) {
      const uint32_t seen = ScaleWindow(UnscaleWindow(bytes, ws), ws);
      EXPECT_LE(seen, bytes);
      if ((bytes >> ws) <= 0xffff) {
        EXPECT_LT(bytes - seen, 1u << ws);
      }
    }
  }
}

TEST(WindowScaleTest, UnscaleSaturates) {
  EXPECT_EQ(UnscaleWindow(70000, 0), 0xffff);
  EXPECT_EQ(UnscaleWindow(0xffffffffu, 14), 0xffff);
  EXPECT_EQ(UnscaleWindow(65535u << 7, 7), 65535);
}

TEST(WindowScaleTest, AlignWindowRoundsUpToScaleUnit) {
  EXPECT_EQ(AlignWindow(1000, 0), 1000u);
  EXPECT_EQ(AlignWindow(1000, 7), 1024u);
  EXPECT_EQ(AlignWindow(1024, 7), 1024u);
  EXPECT_EQ(AlignWindow(1025, 7), 1152u);
  EXPECT_EQ(AlignWindow(0, 7), 0u);
  // Aligned windows survive the trip through the field exactly.
  for (uint32_t w : {1u, 5000u, 64240u, 1u << 20}) {
    const uint32_t a = AlignWindow(w, 7);
    EXPECT_EQ(ScaleWindow(UnscaleWindow(a, 7), 7), a);
  }
}

constexpr uint32_t kLinuxTcpRmemMax = 6291456;  // tcp_rmem[2] default

TEST(InitialWindowTest, LinuxDefaultClientSyn) {
  // tcp_full_space() of the default 128 KiB rcvbuf is 64 KiB; Linux SYNs
  // show "win 64240 ... wscale 7".
  const InitialWindow w = SelectInitialWindow(65536, 1460, 0, true, kLinuxTcpRmemMax);
  EXPECT_EQ(w.rcv_wnd, 64240u);
  EXPECT_EQ(w.rcv_wscale, 7);
  EXPECT_EQ(w.window_clamp, 65535u << 7);
}

TEST(InitialWindowTest, WscaleFollowsLargestBuffer) {
  EXPECT_EQ(SelectInitialWindow(65536, 1460, 0, true, 1u << 16).rcv_wscale, 1);
  EXPECT_EQ(SelectInitialWindow(65536, 1460, 0, true, (1u << 16) - 1).rcv_wscale, 0);
  EXPECT_EQ(SelectInitialWindow(65536, 1460, 0, true, 16u << 20).rcv_wscale, 9);
  // Never beyond 14, however large the buffer.
  EXPECT_EQ(SelectInitialWindow(65536, 1460, 0, true, 0x80000000u).rcv_wscale, TCP_MAX_WSCALE);
  // A big space with a small rmem limit still scales for the space.
  EXPECT_EQ(SelectInitialWindow(5 << 20, 1460, 0, true, 65536).rcv_wscale, 7);
  // 4 MiB rounds down to a multiple of the MSS, just under 2^22.
  EXPECT_EQ(SelectInitialWindow(4 << 20, 1460, 0, true, 65536).rcv_wscale, 6);
}

TEST(InitialWindowTest, NoWscaleWhenPeerDidNotOffer) {
  const InitialWindow w = SelectInitialWindow(1 << 20, 1460, 0, false, kLinuxTcpRmemMax);
  EXPECT_EQ(w.rcv_wscale, 0);
  EXPECT_EQ(w.rcv_wnd, 65535u);
  EXPECT_EQ(w.window_clamp, 65535u);
}

TEST(InitialWindowTest, UserClampLimitsWindowAndScale) {
  const InitialWindow w = SelectInitialWindow(1 << 20, 1460, 10000, true, kLinuxTcpRmemMax);
  EXPECT_EQ(w.rcv_wnd, 8760u);  // 10000 rounded down to 6 * 1460
  EXPECT_EQ(w.rcv_wscale, 0);   // ilog2(10000) - 15 < 0
  EXPECT_EQ(w.window_clamp, 10000u);
}

TEST(InitialWindowTest, InitRcvWndAndSignedWorkaround) {
  EXPECT_EQ(SelectInitialWindow(1 << 20, 1460, 0, true, kLinuxTcpRmemMax, 10).rcv_wnd, 14600u);
  EXPECT_EQ(SelectInitialWindow(1 << 20, 1460, 0, true, kLinuxTcpRmemMax, 0, true).rcv_wnd,
            MAX_TCP_WINDOW);
  // Space below one MSS is not rounded to zero; negative space is zero.
  EXPECT_EQ(SelectInitialWindow(1000, 1460, 0, true, kLinuxTcpRmemMax).rcv_wnd, 1000u);
  EXPECT_EQ(SelectInitialWindow(-5, 1460, 0, true, kLinuxTcpRmemMax).rcv_wnd, 0u);
}

}  // namespace
}  // namespace dpx::tcp
