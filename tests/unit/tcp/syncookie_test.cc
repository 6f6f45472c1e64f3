#include "tcp/syncookie.h"

#include <gtest/gtest.h>

#include "tcp/seq.h"

namespace dpx::tcp {
namespace {

constexpr uint32_t kPeer = 0xc0a80064;   // 192.168.0.100 (SYN source)
constexpr uint32_t kLocal = 0xc0a80001;  // 192.168.0.1
constexpr uint16_t kPeerPort = 51000;
constexpr uint16_t kLocalPort = 443;
constexpr uint64_t kSec = 1'000'000'000ULL;

class SyncookieTest : public ::testing::Test {
 protected:
  const SynCookies c_ = SynCookies::FromSeed(99);
  const uint32_t syn_seq_ = 0x12345678;

  uint32_t Make(uint16_t* mss, uint64_t now) const {
    return c_.InitSequence(kPeer, kLocal, kPeerPort, kLocalPort, syn_seq_, mss, now);
  }
  uint16_t CheckAck(uint32_t cookie, uint64_t now) const {
    return c_.Check(kPeer, kLocal, kPeerPort, kLocalPort, syn_seq_ + 1, cookie + 1, now);
  }
};

TEST_F(SyncookieTest, ValidCookieGivesMss) {
  uint16_t mss = 1460;
  const uint32_t cookie = Make(&mss, 10 * kSec);
  EXPECT_EQ(mss, 1460);
  EXPECT_EQ(CheckAck(cookie, 10 * kSec), 1460);
  EXPECT_EQ(CheckAck(cookie, 11 * kSec), 1460);
}

TEST_F(SyncookieTest, MssIndexRoundTrip) {
  struct {
    uint16_t in, encoded;
  } cases[] = {{100, 536},   {536, 536},   {1000, 536},  {1299, 536},  {1300, 1300},
               {1439, 1300}, {1440, 1440}, {1452, 1440}, {1459, 1440}, {1460, 1460},
               {8960, 1460}};
  for (const auto& k : cases) {
    uint16_t mss = k.in;
    const uint32_t cookie = Make(&mss, 5 * kSec);
    EXPECT_EQ(mss, k.encoded) << k.in;
    EXPECT_EQ(CheckAck(cookie, 5 * kSec), k.encoded) << k.in;
  }
}

TEST_F(SyncookieTest, ValidityWindowIsTwoCounterValues) {
  uint16_t mss = 1460;
  const uint32_t cookie = Make(&mss, 30 * kSec);  // minute 0
  EXPECT_EQ(CheckAck(cookie, 59 * kSec), 1460);   // minute 0
  EXPECT_EQ(CheckAck(cookie, 119 * kSec), 1460);  // minute 1: still good
  EXPECT_EQ(CheckAck(cookie, 120 * kSec), 0);     // minute 2: expired
  EXPECT_EQ(CheckAck(cookie, 3600 * kSec), 0);
  // A clock before the cookie's minute is not accepted either.
  uint16_t m2 = 1460;
  const uint32_t later = Make(&m2, 600 * kSec);
  EXPECT_EQ(CheckAck(later, 540 * kSec), 0);
}

TEST_F(SyncookieTest, TamperedOrForeignCookieFails) {
  uint16_t mss = 1460;
  const uint64_t now = 10 * kSec;
  const uint32_t cookie = Make(&mss, now);
  // Bits 2..31: the hash no longer matches.
  for (int bit = 2; bit < 32; ++bit)
    EXPECT_EQ(CheckAck(cookie ^ (1u << bit), now), 0) << "bit " << bit;
  // Right cookie, wrong flow, wrong peer sequence, another host's secret.
  EXPECT_EQ(c_.Check(kPeer, kLocal, kPeerPort + 1, kLocalPort, syn_seq_ + 1, cookie + 1, now), 0);
  EXPECT_EQ(c_.Check(kPeer + 1, kLocal, kPeerPort, kLocalPort, syn_seq_ + 1, cookie + 1, now), 0);
  EXPECT_EQ(c_.Check(kPeer, kLocal, kPeerPort, kLocalPort, syn_seq_ + 1001, cookie + 1, now), 0);
  const SynCookies other = SynCookies::FromSeed(100);
  EXPECT_EQ(other.Check(kPeer, kLocal, kPeerPort, kLocalPort, syn_seq_ + 1, cookie + 1, now), 0);
}

TEST_F(SyncookieTest, LowBitsOnlyMoveTheMssIndex) {
  // As in Linux, the MSS index is added to the hash, so an ACK off by one
  // or two in the low bits (or in seq) decodes a neighbouring table entry:
  // never the original MSS, never anything outside the table.
  uint16_t mss = 1300;  // index 1
  const uint64_t now = 10 * kSec;
  const uint32_t cookie = Make(&mss, now);
  EXPECT_EQ(CheckAck(cookie + 1, now), 1440);
  EXPECT_EQ(CheckAck(cookie + 2, now), 1460);
  EXPECT_EQ(CheckAck(cookie - 1, now), 536);
  EXPECT_EQ(CheckAck(cookie + 3, now), 0);
  EXPECT_EQ(CheckAck(cookie - 2, now), 0);
  EXPECT_EQ(c_.Check(kPeer, kLocal, kPeerPort, kLocalPort, syn_seq_ + 2, cookie + 1, now), 536);
}

TEST_F(SyncookieTest, CookiesDifferPerFlowAndMinute) {
  uint16_t mss = 1460;
  const uint32_t a = Make(&mss, 10 * kSec);
  const uint32_t b = c_.InitSequence(kPeer, kLocal, kPeerPort + 1, kLocalPort, syn_seq_, &mss,
                                     10 * kSec);
  const uint32_t c = Make(&mss, 70 * kSec);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST(SyncookieTimestampTest, EncodesOptionsInLowBits) {
  CookieTsOptions o;
  o.wscale_ok = true;
  o.snd_wscale = 7;
  o.sack_ok = true;
  const uint32_t now = 1'000'000;
  const uint32_t ts = CookieInitTimestamp(now, o);
  EXPECT_EQ(ts & 0x3f, 0x17u);  // SACK | wscale 7
  EXPECT_FALSE(TsAfter(ts, now));
  EXPECT_LT(now - ts, 64u);

  ParsedOptions p;
  p.saw_tstamp = true;
  p.rcv_tsecr = ts;
  ASSERT_TRUE(CookieTimestampDecode(&p, true, true, true));
  EXPECT_TRUE(p.sack_ok);
  EXPECT_TRUE(p.wscale_ok);
  EXPECT_EQ(p.snd_wscale, 7);
  EXPECT_FALSE(CookieEcnBit(ts));
}

TEST(SyncookieTimestampTest, NoWscaleAndEcn) {
  CookieTsOptions o;
  o.ecn_ok = true;
  const uint32_t ts = CookieInitTimestamp(1'000'000, o);
  EXPECT_EQ(ts & 0x3f, 0x2fu);  // ECN | no wscale (0xf)
  ParsedOptions p;
  p.saw_tstamp = true;
  p.rcv_tsecr = ts;
  ASSERT_TRUE(CookieTimestampDecode(&p, true, true, true));
  EXPECT_FALSE(p.wscale_ok);
  EXPECT_FALSE(p.sack_ok);
  EXPECT_TRUE(CookieEcnBit(ts));
}

TEST(SyncookieTimestampTest, NeverAheadOfClockEvenNearZero) {
  CookieTsOptions o;
  o.wscale_ok = true;
  o.snd_wscale = 14;
  o.sack_ok = true;
  for (uint32_t now : {0u, 5u, 63u, 64u, 1000u, 0xffffffffu}) {
    const uint32_t ts = CookieInitTimestamp(now, o);
    EXPECT_EQ(ts & 0x3f, 0x1eu) << now;
    EXPECT_FALSE(TsAfter(ts, now)) << now;
    EXPECT_LT(now - ts, 64u) << now;
  }
}

TEST(SyncookieTimestampTest, DecodeRespectsHostSettings) {
  ParsedOptions p;
  p.saw_tstamp = true;
  p.rcv_tsecr = 0x40 | TS_OPT_SACK | 3;
  EXPECT_FALSE(CookieTimestampDecode(&p, false, true, true));  // TS off
  ParsedOptions q = {};
  q.saw_tstamp = true;
  q.rcv_tsecr = 0x40 | TS_OPT_SACK | 3;
  EXPECT_FALSE(CookieTimestampDecode(&q, true, false, true));  // SACK off
  ParsedOptions r = {};
  r.saw_tstamp = true;
  r.rcv_tsecr = 0x40 | TS_OPT_SACK | 3;
  EXPECT_FALSE(CookieTimestampDecode(&r, true, true, false));  // wscale off
  // No timestamp in the ACK: no options, still a valid cookie ACK.
  ParsedOptions n;
  n.wscale_ok = true;
  n.sack_ok = true;
  EXPECT_TRUE(CookieTimestampDecode(&n, true, true, true));
  EXPECT_FALSE(n.wscale_ok);
  EXPECT_FALSE(n.sack_ok);
}

}  // namespace
}  // namespace dpx::tcp
