// TIME_WAIT mini-sockets (time_wait.cc): tcp_time_wait, every outcome of
// tcp_timewait_state_process with the exact segments A sends, expiry at
// 60 s of virtual time, overflow, tw_reuse. A (10.0.0.1) closes first and
// holds the mini-socket; B's stack injects crafted segments with SendRaw
// and A->B frames are dropped (but captured) so B never answers them.
#include <gtest/gtest.h>

#include <rte_byteorder.h>

#include "tcp/time_wait.h"
#include "tcp_harness.h"

namespace dpx::tcp::testing {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

class TimeWaitTest : public ::testing::Test {
 protected:
  explicit TimeWaitTest(TcpStackConfig cfg = TwoStacks::DefaultTcp()) : t_(cfg) {}

  // A connects to B:80, A closes, then B: A ends in TIME_WAIT.
  void EnterTimeWait() {
    base_pool_ = t_.a().sockets_in_use();
    auto [c, s] = t_.Connect(80);
    cport_ = c->c.sport;
    EXPECT_EQ(TcpClose(c), 0);
    t_.Run(100 * kMs);
    EXPECT_EQ(TcpClose(s), 0);
    t_.Run(10 * kMs);
    const auto segs = t_.AllSegments();
    // The last A->B segment is the ACK of B's FIN, sent when A entered TIME_WAIT.
    for (const WireSeg& g : segs)
      if (g.dir == WireDir::kAtoB) last_a_ = g;
      else last_b_ = g;
    // Entry in the stack's own clock (the wheel time when the FIN was processed).
    if (TwSock* tw = Tw()) {
      const uint32_t now_ms = t_.a().now_ms();
      entered_ns_ = uint64_t{now_ms - static_cast<uint16_t>(now_ms - tw->entry16)} * kMs;
    }
    snd_nxt_ = last_a_.seq;
    rcv_nxt_ = last_a_.ack;
    peer_ts_ = last_b_.opt.rcv_tsval;
    t_.NewSegments();
  }
  TwSock* Tw() {
    SockCommon* s = t_.a().table().Lookup(kIpA, cport_, kIpB, rte_cpu_to_be_16(80));
    return (s && s->kind == SockKind::kTimeWait) ? reinterpret_cast<TwSock*>(s) : nullptr;
  }
  void MuteA() {
    WireRule r;
    r.dir = WireDir::kAtoB;
    r.action = WireAction::kDrop;
    r.match = [](const rte_mbuf* m, uint64_t) {  // TCP only: ARP must still work
      const auto* b = rte_pktmbuf_mtod(m, const uint8_t*);
      return b[12] == 0x08 && b[13] == 0x00 && b[23] == 6;
    };
    r.times = UINT32_MAX;
    t_.wire().AddRule(r);
  }
  // B -> A, optionally with a timestamp option, then 2 ms of wire time.
  void Inject(uint8_t flags, uint32_t seq, uint32_t ack, uint32_t tsval = 0, uint32_t len = 0) {
    OutOptions o;
    if (tsval) {
      o.timestamps = true;
      o.tsval = tsval;
      o.tsecr = 0;
    }
    rte_mbuf* payload = nullptr;
    if (len) {
      payload = rte_pktmbuf_alloc(dpx::testing::TestPool());
      char* p = rte_pktmbuf_append(payload, static_cast<uint16_t>(len));
      for (uint32_t i = 0; i < len; ++i) p[i] = 'x';
    }
    t_.b().SendRaw(kIpB, kIpA, rte_cpu_to_be_16(80), cport_, seq, ack, flags, 1000,
                   tsval ? &o : nullptr, payload, 0, len);
    if (payload) rte_pktmbuf_free(payload);
    t_.Run(2 * kMs);
  }
  std::vector<WireSeg> FromA() {
    std::vector<WireSeg> out;
    for (const WireSeg& g : t_.NewSegments())
      if (g.dir == WireDir::kAtoB) out.push_back(g);
    return out;
  }
  void RunTo(uint64_t abs_ns) { t_.Run(abs_ns - t_.clock().NowNs()); }
  int64_t Mib(Mib m) { return t_.mib_a().Get(m); }

  TwoStacks t_;
  uint16_t cport_ = 0;
  WireSeg last_a_{}, last_b_{};
  uint64_t entered_ns_ = 0;
  uint32_t snd_nxt_ = 0, rcv_nxt_ = 0, peer_ts_ = 0;
  size_t base_pool_ = 0;
};

TEST(TimeWaitLayout, SixtyFourBytes) {
  EXPECT_EQ(sizeof(TwSock), 64u);
  EXPECT_EQ(sizeof(SockCommon), 20u);
}

TEST_F(TimeWaitTest, FullTcbFreedMiniSocketCountedExpiresAtSixtySeconds) {
  EnterTimeWait();
  ASSERT_NE(Tw(), nullptr);
  EXPECT_EQ(Tw()->substate(), TCP_TIME_WAIT);
  EXPECT_EQ(Tw()->snd_nxt, snd_nxt_);
  EXPECT_EQ(Tw()->rcv_nxt, rcv_nxt_);
  EXPECT_EQ(Tw()->ts_recent, peer_ts_);
  EXPECT_EQ(t_.a().sockets_in_use(), base_pool_);  // TCB back in the pool
  EXPECT_EQ(TwCount(t_.a()), 1u);
  EXPECT_EQ(t_.a().shared().SumTw(), 1);
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 1);
  EXPECT_EQ(Mib(Mib::TcpExt_TWKilled), 0);
  RunTo(entered_ns_ + 60 * kSec - kMs);
  EXPECT_NE(Tw(), nullptr);  // not before 60 s
  RunTo(entered_ns_ + 60 * kSec);
  EXPECT_EQ(Tw(), nullptr);
  EXPECT_EQ(TwCount(t_.a()), 0u);
  EXPECT_EQ(t_.a().shared().SumTw(), 0);
  EXPECT_TRUE(FromA().empty());  // expiry is silent
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 1);
}

TEST_F(TimeWaitTest, RetransmittedFinIsAckedAndRestartsTheTimer) {
  EnterTimeWait();
  MuteA();
  RunTo(entered_ns_ + 30 * kSec);
  Inject(TCPHDR_FIN | TCPHDR_ACK, rcv_nxt_ - 1, snd_nxt_, peer_ts_ + 1);
  const uint64_t rearm = t_.clock().NowNs();
  auto a = FromA();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), ".");
  EXPECT_EQ(a[0].seq, snd_nxt_);
  EXPECT_EQ(a[0].ack, rcv_nxt_);
  EXPECT_EQ(a[0].win, last_a_.win);  // tw_rcv_wnd >> wscale
  EXPECT_TRUE(a[0].opt.saw_tstamp);
  EXPECT_EQ(a[0].opt.rcv_tsecr, peer_ts_);  // out of window: ts_recent is not updated
  // A second retransmitted FIN right away is ACKed too (FINs are never rate limited).
  Inject(TCPHDR_FIN | TCPHDR_ACK, rcv_nxt_ - 1, snd_nxt_, peer_ts_ + 2);
  EXPECT_EQ(FromA().size(), 1u);
  EXPECT_EQ(Mib(Mib::TcpExt_TCPACKSkippedTimeWait), 0);
  RunTo(entered_ns_ + 61 * kSec);
  EXPECT_NE(Tw(), nullptr);  // re-armed at 30 s
  RunTo(rearm + 62 * kSec);
  EXPECT_EQ(Tw(), nullptr);
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 1);  // re-arms count nothing
}

TEST_F(TimeWaitTest, OutOfWindowAckIsAckedRateLimited) {
  EnterTimeWait();
  MuteA();
  Inject(TCPHDR_ACK, rcv_nxt_ + 100, snd_nxt_);
  EXPECT_EQ(FromA().size(), 1u);
  Inject(TCPHDR_ACK, rcv_nxt_ + 100, snd_nxt_);  // within tcp_invalid_ratelimit
  EXPECT_TRUE(FromA().empty());
  EXPECT_EQ(Mib(Mib::TcpExt_TCPACKSkippedTimeWait), 1);
  t_.Run(500 * kMs);
  Inject(TCPHDR_ACK, rcv_nxt_ + 100, snd_nxt_);
  auto a = FromA();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].seq, snd_nxt_);
  EXPECT_EQ(a[0].ack, rcv_nxt_);
}

TEST_F(TimeWaitTest, BareAckInSequenceRearmsSilently) {
  EnterTimeWait();
  MuteA();
  RunTo(entered_ns_ + 40 * kSec);
  Inject(TCPHDR_ACK, rcv_nxt_, snd_nxt_, peer_ts_ + 5);
  EXPECT_TRUE(FromA().empty());
  EXPECT_EQ(Tw()->ts_recent, peer_ts_ + 5);
  RunTo(entered_ns_ + 99 * kSec);
  EXPECT_NE(Tw(), nullptr);
  RunTo(entered_ns_ + 101 * kSec);
  EXPECT_EQ(Tw(), nullptr);
}

TEST_F(TimeWaitTest, InSequenceRstKills) {
  EnterTimeWait();
  MuteA();
  Inject(TCPHDR_RST, rcv_nxt_ + 5, 0);  // out of sequence: ignored
  EXPECT_NE(Tw(), nullptr);
  EXPECT_TRUE(FromA().empty());
  Inject(TCPHDR_RST, rcv_nxt_, 0);
  EXPECT_EQ(Tw(), nullptr);
  EXPECT_TRUE(FromA().empty());
  EXPECT_EQ(t_.a().shared().SumTw(), 0);
}

TEST_F(TimeWaitTest, Rfc1337IgnoresRst) {
  t_.a().sysctl().tcp_rfc1337 = true;
  EnterTimeWait();
  MuteA();
  Inject(TCPHDR_RST, rcv_nxt_, 0);
  EXPECT_NE(Tw(), nullptr);
  EXPECT_TRUE(FromA().empty());
}

TEST_F(TimeWaitTest, PawsRejectedSegmentCountsAndIsAcked) {
  EnterTimeWait();
  MuteA();
  Inject(TCPHDR_ACK, rcv_nxt_, snd_nxt_, peer_ts_ - 10);
  EXPECT_EQ(Mib(Mib::TcpExt_PAWSTimewait), 1);
  auto a = FromA();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), ".");
  EXPECT_EQ(a[0].opt.rcv_tsecr, peer_ts_);
}

TEST_F(TimeWaitTest, NewSynWithListenerOpensWithTwIsn) {
  EnterTimeWait();
  MuteA();
  Tcb* l = TcpSocket(t_.a());
  ASSERT_EQ(TcpBind(l, 0, rte_be_to_cpu_16(cport_)), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  Inject(TCPHDR_SYN, rcv_nxt_ + 1000, 0, peer_ts_ + 1);
  EXPECT_EQ(Tw(), nullptr);
  auto a = FromA();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "S.");
  EXPECT_EQ(a[0].seq, snd_nxt_ + 65535 + 2);
  EXPECT_EQ(a[0].ack, rcv_nxt_ + 1001);
  EXPECT_EQ(TcpClose(l), 0);
}

TEST_F(TimeWaitTest, NewSynWithoutListenerIsAcked) {
  EnterTimeWait();
  MuteA();
  Inject(TCPHDR_SYN, rcv_nxt_ + 1000, 0, peer_ts_ + 1);
  EXPECT_NE(Tw(), nullptr);
  auto a = FromA();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), ".");
  EXPECT_EQ(a[0].seq, snd_nxt_);
  EXPECT_EQ(a[0].ack, rcv_nxt_);
}

TEST_F(TimeWaitTest, OverflowClosesAndCounts) {
  t_.a().sysctl().tcp_max_tw_buckets = 0;
  EnterTimeWait();
  EXPECT_EQ(Tw(), nullptr);
  EXPECT_EQ(Mib(Mib::TcpExt_TCPTimeWaitOverflow), 1);
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 0);
  EXPECT_EQ(t_.a().sockets_in_use(), base_pool_);
  // Refused already at FIN_WAIT2 (orphan closed): B's FIN finds no socket.
  EXPECT_EQ(last_a_.Flags(), "R");
}

TEST_F(TimeWaitTest, FinWait2SubstateThenFin) {
  base_pool_ = t_.a().sockets_in_use();
  auto [c, s] = t_.Connect(80);
  cport_ = c->c.sport;
  EXPECT_EQ(TcpClose(c), 0);
  t_.Run(300 * kMs);  // B ACKs the FIN (delayed ACK); A: orphan FIN_WAIT2 -> mini-socket
  ASSERT_NE(Tw(), nullptr);
  EXPECT_EQ(Tw()->substate(), TCP_FIN_WAIT2);
  EXPECT_EQ(t_.a().sockets_in_use(), base_pool_);
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 1);  // 60 s > 4 s
  t_.NewSegments();
  EXPECT_EQ(TcpClose(s), 0);
  t_.Run(10 * kMs);
  ASSERT_NE(Tw(), nullptr);
  EXPECT_EQ(Tw()->substate(), TCP_TIME_WAIT);
  auto segs = t_.NewSegments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].Flags(), "F.");
  EXPECT_EQ(segs[1].Flags(), ".");
  EXPECT_EQ(segs[1].ack, segs[0].seq + 1);
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 1);
}

TEST_F(TimeWaitTest, FinWait2SubstateDataIsReset) {
  auto [c, s] = t_.Connect(80);
  cport_ = c->c.sport;
  EXPECT_EQ(TcpClose(c), 0);
  t_.Run(300 * kMs);
  ASSERT_NE(Tw(), nullptr);
  t_.NewSegments();
  EXPECT_EQ(TcpSend(s, "abc", 3), 3);
  t_.Run(10 * kMs);
  EXPECT_EQ(Tw(), nullptr);
  auto segs = t_.NewSegments();
  ASSERT_GE(segs.size(), 2u);
  EXPECT_EQ(segs[1].Flags(), "R");
  EXPECT_EQ(segs[1].seq, segs[0].ack);
  EXPECT_EQ(TcpClose(s), 0);
}

TEST_F(TimeWaitTest, ShortFinWait2TimeoutCountsTWKilled) {
  t_.a().sysctl().tcp_fin_timeout = 3;
  auto [c, s] = t_.Connect(80);
  cport_ = c->c.sport;
  EXPECT_EQ(TcpClose(c), 0);
  t_.Run(300 * kMs);
  ASSERT_NE(Tw(), nullptr);
  EXPECT_EQ(Mib(Mib::TcpExt_TWKilled), 1);
  EXPECT_EQ(Mib(Mib::TcpExt_TW), 0);
  t_.Run(3 * kSec);
  EXPECT_EQ(Tw(), nullptr);
  EXPECT_EQ(TcpClose(s), 0);
}

TEST_F(TimeWaitTest, ReuseBoundPortTakesOverWithNewIsn) {
  EnterTimeWait();
  MuteA();
  Tcb* c2 = TcpSocket(t_.a());
  ASSERT_EQ(TcpBind(c2, 0, rte_be_to_cpu_16(cport_)), 0);
  EXPECT_EQ(TcpConnect(c2, kIpB, 80), -EINPROGRESS);
  EXPECT_EQ(Mib(Mib::TcpExt_TWRecycled), 1);
  EXPECT_EQ(TwCount(t_.a()), 0u);
  t_.Run(kMs);
  auto a = FromA();
  ASSERT_GE(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "S");
  EXPECT_EQ(a[0].seq, snd_nxt_ + 65537);
  EXPECT_EQ(TcpClose(c2), 0);
}

TEST_F(TimeWaitTest, ReuseEphemeralNeedsLoopbackUnderReuse2) {
  t_.a().sysctl().ip_local_port_range[0] = 40000;
  t_.a().sysctl().ip_local_port_range[1] = 40000;
  EnterTimeWait();
  MuteA();
  RunTo(entered_ns_ + 2 * kSec);
  Tcb* c2 = TcpSocket(t_.a());
  EXPECT_EQ(TcpConnect(c2, kIpB, 80), -EADDRNOTAVAIL);  // 10.0.0.x is not loopback
  EXPECT_EQ(Mib(Mib::TcpExt_TWRecycled), 0);
  EXPECT_NE(Tw(), nullptr);
  EXPECT_EQ(TcpClose(c2), 0);
}

TEST_F(TimeWaitTest, ReuseEphemeralWithReuse1AfterDelay) {
  t_.a().sysctl().ip_local_port_range[0] = 40000;
  t_.a().sysctl().ip_local_port_range[1] = 40000;
  t_.a().sysctl().tcp_tw_reuse = 1;
  EnterTimeWait();
  MuteA();
  RunTo(entered_ns_ + 1000 * kMs);  // not after entry + 1000 ms yet
  Tcb* c2 = TcpSocket(t_.a());
  EXPECT_EQ(TcpConnect(c2, kIpB, 80), -EADDRNOTAVAIL);
  RunTo(entered_ns_ + 1001 * kMs);
  EXPECT_EQ(TcpConnect(c2, kIpB, 80), -EINPROGRESS);
  EXPECT_EQ(Mib(Mib::TcpExt_TWRecycled), 1);
  EXPECT_EQ(Tw(), nullptr);
  t_.Run(kMs);
  auto a = FromA();
  ASSERT_GE(a.size(), 1u);
  EXPECT_EQ(a[0].seq, snd_nxt_ + 65537);
  EXPECT_EQ(TcpClose(c2), 0);
}

}  // namespace
}  // namespace dpx::tcp::testing
