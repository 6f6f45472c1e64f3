// Two dpx TCP stacks on the in-memory wire under virtual time: handshake,
// data both ways, close, RST to a closed port, loss recovery.
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>
#include <random>

#include "tcp_harness.h"
#include "tcp/sysctl_table.h"
#include "tcp/time_wait.h"

namespace dpx::tcp::testing {
namespace {

TEST(TcbTest, SizeOfTcb) {
  std::printf("sizeof(Tcb) = %zu bytes (target <= %zu)\n", sizeof(Tcb), kTcbTargetBytes);
  EXPECT_LE(sizeof(Tcb), kTcbTargetBytes);
}

// net.ipv4.tcp_congestion_control set at run time (dpxctl sysctl -w)
// applies to sockets made afterwards, as tcp_assign_congestion_control does.
TEST(TcpStackTest, CongestionControlSysctlAppliesToNewSockets) {
  TwoStacks t;
  Tcb* before = TcpSocket(t.a());
  ASSERT_TRUE(SysctlSet(&t.a().sysctl(), "net.ipv4.tcp_congestion_control", "reno").ok());
  Tcb* after = TcpSocket(t.a());
  EXPECT_STREQ(before->cc.ops->name, "cubic");
  EXPECT_STREQ(after->cc.ops->name, "reno");
  TcpClose(before);
  TcpClose(after);
}

TEST(TcpStackTest, HandshakeWithOptions) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(c->state(), TCP_ESTABLISHED);
  EXPECT_EQ(s->state(), TCP_ESTABLISHED);
  auto segs = t.AllSegments();
  ASSERT_GE(segs.size(), 3u);
  EXPECT_EQ(segs[0].Flags(), "S");
  EXPECT_EQ(segs[0].dir, WireDir::kAtoB);
  EXPECT_EQ(segs[0].opt.mss_clamp, 1460);
  EXPECT_TRUE(segs[0].opt.saw_tstamp);
  EXPECT_TRUE(segs[0].opt.sack_ok);
  EXPECT_TRUE(segs[0].opt.wscale_ok);
  EXPECT_EQ(segs[0].opt.snd_wscale, 10);  // tcp_rmem[2] = 32 MiB, as Linux 6.18 sends
  // Linux order: mss, sackOK, TS, nop, wscale
  ASSERT_EQ(segs[0].raw_opts.size(), 20u);
  EXPECT_EQ(segs[0].raw_opts[0], 2);
  EXPECT_EQ(segs[0].raw_opts[4], 4);
  EXPECT_EQ(segs[0].raw_opts[6], 8);
  EXPECT_EQ(segs[0].raw_opts[16], 1);
  EXPECT_EQ(segs[0].raw_opts[17], 3);
  EXPECT_EQ(segs[1].Flags(), "S.");
  EXPECT_EQ(segs[1].ack, segs[0].seq + 1);
  EXPECT_TRUE(segs[1].opt.saw_tstamp);
  EXPECT_EQ(segs[1].opt.rcv_tsecr, segs[0].opt.rcv_tsval);
  EXPECT_EQ(segs[2].Flags(), ".");
  EXPECT_EQ(segs[2].seq, segs[0].seq + 1);
  EXPECT_EQ(segs[2].ack, segs[1].seq + 1);
  EXPECT_EQ(segs[2].len, 0u);
  EXPECT_EQ(c->mss_cache, 1448);  // 1460 - TS option
  EXPECT_TRUE(c->rx_opt.tstamp_ok && c->rx_opt.sack_ok && c->rx_opt.wscale_ok);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_ActiveOpens), 1);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_PassiveOpens), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_CurrEstab), 1);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_CurrEstab), 1);
}

TEST(TcpStackTest, HandshakeWithoutOptions) {
  TcpStackConfig cfg = TwoStacks::DefaultTcp();
  cfg.sysctl.tcp_timestamps = false;
  cfg.sysctl.tcp_sack = false;
  cfg.sysctl.tcp_window_scaling = false;
  TwoStacks t(cfg);
  auto [c, s] = t.Connect(81);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(c->state(), TCP_ESTABLISHED);
  EXPECT_FALSE(c->rx_opt.tstamp_ok);
  EXPECT_EQ(c->mss_cache, 1460);
  auto segs = t.AllSegments();
  EXPECT_EQ(segs[0].raw_opts.size(), 4u);  // MSS only
}

std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937 r(seed);
  for (auto& b : v) b = static_cast<uint8_t>(r());
  return v;
}

// Pumps bytes both ways until everything has arrived or `limit_ns` passes.
struct Pump {
  Pump(Tcb* f, Tcb* t, std::vector<uint8_t> d) : from(f), to(t), data(std::move(d)) {}
  Tcb* from;
  Tcb* to;
  std::vector<uint8_t> data;
  size_t sent = 0;
  std::vector<uint8_t> got;
  void Step() {
    while (sent < data.size()) {
      const ptrdiff_t n = TcpSend(from, data.data() + sent, data.size() - sent);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    uint8_t buf[65536];
    for (;;) {
      const ptrdiff_t n = TcpRecv(to, buf, sizeof(buf));
      if (n <= 0) break;
      got.insert(got.end(), buf, buf + n);
    }
  }
  bool done() const { return got.size() >= data.size(); }
};

void Transfer(TwoStacks& t, Pump& p1, Pump& p2, uint64_t limit_ns) {
  const uint64_t end = t.clock().NowNs() + limit_ns;
  while ((!p1.done() || !p2.done()) && t.clock().NowNs() < end) {
    p1.Step();
    p2.Step();
    t.Run(2'000'000);
  }
}

TEST(TcpStackTest, DataBothWays) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  Pump up{c, s, Pattern(300'000, 1)};
  Pump down{s, c, Pattern(120'000, 2)};
  Transfer(t, up, down, 20'000'000'000ull);
  EXPECT_EQ(up.got, up.data);
  EXPECT_EQ(down.got, down.data);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_RetransSegs), 0);
  // Every data segment carries TS; none exceeds the MSS.
  for (const WireSeg& sg : t.AllSegments()) {
    EXPECT_LE(sg.len, 1448u);
    if (!(sg.flags & TCPHDR_SYN)) {
      EXPECT_TRUE(sg.opt.saw_tstamp) << sg.Flags();
    }
  }
}

TEST(TcpStackTest, CloseWithFinBothWays) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(TcpSend(c, "hello", 5), 5);
  t.Run(5'000'000);
  char buf[16];
  ASSERT_EQ(TcpRecv(s, buf, sizeof buf), 5);
  t.NewSegments();
  EXPECT_EQ(TcpClose(c), 0);
  EXPECT_EQ(c->state(), TCP_FIN_WAIT1);
  t.Run(100'000'000);
  EXPECT_EQ(s->state(), TCP_CLOSE_WAIT);
  EXPECT_EQ(TcpRecv(s, buf, sizeof buf), 0);  // EOF
  auto segs = t.NewSegments();
  ASSERT_GE(segs.size(), 2u);
  EXPECT_EQ(segs[0].Flags(), "F.");
  EXPECT_EQ(segs[1].Flags(), ".");  // the FIN's ACK (delayed: pingpong after FIN)
  EXPECT_EQ(segs[1].ack, segs[0].seq + 1);
  EXPECT_EQ(TcpClose(s), 0);
  t.Run(10'000'000);
  segs = t.NewSegments();
  ASSERT_GE(segs.size(), 2u);
  EXPECT_EQ(segs[0].Flags(), "F.");
  EXPECT_EQ(segs[0].dir, WireDir::kBtoA);
  EXPECT_EQ(segs[1].Flags(), ".");
  EXPECT_EQ(t.b().sockets_in_use(), 1u);  // only the listener: LAST_ACK -> CLOSE freed
  EXPECT_EQ(t.a().sockets_in_use(), 0u);  // the full TCB is freed at TIME_WAIT
  EXPECT_EQ(TwCount(t.a()), 1u);          // a mini-socket holds the 4-tuple
  t.Run(61'000'000'000ull);
  EXPECT_EQ(TwCount(t.a()), 0u);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_CurrEstab), 0);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_CurrEstab), 0);
}

TEST(TcpStackTest, RstToClosedPort) {
  TwoStacks t;
  Tcb* c = TcpSocket(t.a());
  EXPECT_EQ(TcpConnect(c, kIpB, 9), -EINPROGRESS);
  t.Run(10'000'000);
  EXPECT_EQ(c->state(), TCP_CLOSE);
  auto segs = t.AllSegments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[1].Flags(), "R.");
  EXPECT_EQ(segs[1].seq, 0u);
  EXPECT_EQ(segs[1].ack, segs[0].seq + 1);
  EXPECT_EQ(segs[1].win, 0);
  EXPECT_TRUE(segs[1].raw_opts.empty());
  char b[4];
  EXPECT_EQ(TcpRecv(c, b, 4), -ECONNREFUSED);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_OutRsts), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_AttemptFails), 1);
  EXPECT_EQ(TcpClose(c), 0);
  t.Settle();
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
}

TEST(TcpStackTest, TransferWithLossAndReorder) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  t.wire().SetRandom(0.01, 0.01, 42);
  Pump up{c, s, Pattern(3'000'000, 3)};
  Pump down{s, c, Pattern(1'000'000, 4)};
  Transfer(t, up, down, 600'000'000'000ull);
  EXPECT_EQ(up.got.size(), up.data.size());
  EXPECT_TRUE(up.got == up.data);
  EXPECT_TRUE(down.got == down.data);
  EXPECT_GT(t.mib_a().Get(Mib::Tcp_RetransSegs), 0);
  std::printf("retrans A=%lld B=%lld fast=%lld timeouts=%lld t=%.3fs\n",
              static_cast<long long>(t.mib_a().Get(Mib::Tcp_RetransSegs)),
              static_cast<long long>(t.mib_b().Get(Mib::Tcp_RetransSegs)),
              static_cast<long long>(t.mib_a().Get(Mib::TcpExt_TCPFastRetrans)),
              static_cast<long long>(t.mib_a().Get(Mib::TcpExt_TCPTimeouts)),
              t.clock().NowNs() / 1e9);
}

TEST(TcpStackTest, RtoBackoff) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  t.wire().set_link_up(WireDir::kAtoB, false);
  t.NewSegments();
  ASSERT_EQ(TcpSend(c, "x", 1), 1);
  t.Run(10'000'000'000ull);
  auto segs = t.NewSegments();
  ASSERT_GE(segs.size(), 4u);
  for (const auto& sg : segs) EXPECT_EQ(sg.seq, segs[0].seq);
  // RTO doubles: each gap about twice the previous one.
  const double g1 = static_cast<double>(segs[2].sent_ns - segs[1].sent_ns);
  const double g2 = static_cast<double>(segs[3].sent_ns - segs[2].sent_ns);
  EXPECT_NEAR(g2 / g1, 2.0, 0.05);
  EXPECT_GE(segs[1].sent_ns - segs[0].sent_ns, 200'000'000u);  // TCP_RTO_MIN
  EXPECT_GE(t.mib_a().Get(Mib::TcpExt_TCPTimeouts), 3);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_RetransSegs), static_cast<int64_t>(segs.size() - 1));
}

TEST(TcpStackTest, KeepaliveProbesAndOverrides) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  int one = 1, idle = 10, intvl = 2, cnt = 3;
  ASSERT_EQ(TcpSetsockopt(c, kSolSocket, kSoKeepalive, &one, sizeof one), 0);
  ASSERT_EQ(TcpSetsockopt(c, kIpprotoTcp, kTcpKeepidle, &idle, sizeof idle), 0);
  ASSERT_EQ(TcpSetsockopt(c, kIpprotoTcp, kTcpKeepintvl, &intvl, sizeof intvl), 0);
  ASSERT_EQ(TcpSetsockopt(c, kIpprotoTcp, kTcpKeepcnt, &cnt, sizeof cnt), 0);
  t.NewSegments();
  t.Run(11'000'000'000ull);
  auto segs = t.NewSegments();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].seq, c->snd_una - 1);  // probe: snd_una - 1
  EXPECT_EQ(segs[1].dir, WireDir::kBtoA);  // peer answers
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPKeepAlive), 1);
  // The peer goes silent: cnt probes at intvl, then RST and ETIMEDOUT.
  t.wire().set_link_up(WireDir::kBtoA, false);
  t.Run(30'000'000'000ull);
  EXPECT_EQ(c->state(), TCP_CLOSE);
  EXPECT_EQ(TcpSockError(c), ETIMEDOUT);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnTimeout), 1);
  int v = 0;
  size_t len = sizeof v;
  ASSERT_EQ(TcpGetsockopt(c, kIpprotoTcp, kTcpKeepidle, &v, &len), 0);
  EXPECT_EQ(v, 10);
}

TEST(TcpStackTest, SynCookiesWhenSynQueueFull) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 80), 0);
  // backlog 0: the SYN queue is full once it holds one request (Linux 6.18
  // inet_csk_reqsk_queue_is_full: length > backlog). c0's request stays
  // there: its SYN-ACK is lost.
  ASSERT_EQ(TcpListen(l, 0), 0);
  // Options set on the listener; every child inherits them, the cookie
  // child too (inet_csk_clone_lock).
  const int idle = 600, linger2 = 7;
  ASSERT_EQ(TcpSetsockopt(l, kIpprotoTcp, kTcpKeepidle, &idle, sizeof(idle)), 0);
  ASSERT_EQ(TcpSetsockopt(l, kIpprotoTcp, kTcpLinger2, &linger2, sizeof(linger2)), 0);
  Tcb* warm = TcpSocket(t.a());  // a first connection, accepted: ARP is resolved both ways
  EXPECT_EQ(TcpConnect(warm, kIpB, 80), -EINPROGRESS);
  t.Run(20'000'000);
  Tcb* warm_child = nullptr;
  ASSERT_EQ(TcpAccept(l, &warm_child), 0);
  Tcb* c0 = TcpSocket(t.a());
  t.wire().set_link_up(WireDir::kBtoA, false);
  EXPECT_EQ(TcpConnect(c0, kIpB, 80), -EINPROGRESS);
  t.Run(5'000'000);
  t.wire().set_link_up(WireDir::kBtoA, true);
  EXPECT_EQ(c0->state(), TCP_SYN_SENT);
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_SyncookiesSent), 0);
  Tcb* c = TcpSocket(t.a());
  EXPECT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
  t.Run(20'000'000);
  EXPECT_EQ(c->state(), TCP_ESTABLISHED);
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_SyncookiesSent), 1);
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_SyncookiesRecv), 1);
  Tcb* child = nullptr;
  ASSERT_EQ(TcpAccept(l, &child), 0);
  EXPECT_EQ(child->state(), TCP_ESTABLISHED);
  EXPECT_TRUE(child->rx_opt.tstamp_ok);
  for (Tcb* ch : {warm_child, child}) {
    int v = 0;
    size_t len = sizeof(v);
    ASSERT_EQ(TcpGetsockopt(ch, kIpprotoTcp, kTcpKeepidle, &v, &len), 0);
    EXPECT_EQ(v, idle);
    ASSERT_EQ(TcpGetsockopt(ch, kIpprotoTcp, kTcpLinger2, &v, &len), 0);
    EXPECT_EQ(v, linger2);
  }
  ASSERT_EQ(TcpSend(c, "abc", 3), 3);
  t.Run(10'000'000);
  char b[4];
  EXPECT_EQ(TcpRecv(child, b, 4), 3);
}

TEST(TcpStackTest, ChallengeAckForSynInEstablished) {
  TwoStacks t;
  auto [c, s] = t.Connect();
  ASSERT_NE(s, nullptr);
  // Re-run the SYN from A's side on B's connection: B must answer with a
  // challenge ACK, not reset the connection.
  SegIn seg{};
  (void)seg;
  const int64_t before = t.mib_b().Get(Mib::TcpExt_TCPSYNChallenge);
  c->c.state = TCP_SYN_SENT;  // make A resend its SYN on the same 4-tuple
  t.a().SendSyn(c);
  c->c.state = TCP_ESTABLISHED;
  t.Run(5'000'000);
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_TCPSYNChallenge), before + 1);
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_TCPChallengeACK), 1);
  EXPECT_EQ(s->state(), TCP_ESTABLISHED);
}

}  // namespace
}  // namespace dpx::tcp::testing
