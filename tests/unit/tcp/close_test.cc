// The close path (lib/tcp/close.cc) on two stacks over the in-memory wire,
// rule by rule as shared/research/close-semantics.md states it: the exact
// segments (flags, seq, ack, len), final states and counters.
#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "tcp_harness.h"

namespace dpx::tcp::testing {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

std::vector<WireSeg> From(const std::vector<WireSeg>& v, WireDir d) {
  std::vector<WireSeg> out;
  for (const auto& s : v)
    if (s.dir == d) out.push_back(s);
  return out;
}

// Settles the reactors at the current time (tx flush), then the new segments.
std::vector<WireSeg> Out(TwoStacks& t) {
  t.Settle();
  return t.NewSegments();
}

void DropAll(TwoStacks& t, WireDir d) {
  WireRule r;
  r.dir = d;
  r.action = WireAction::kDrop;
  r.match = [](const rte_mbuf*, uint64_t) { return true; };
  r.times = 1u << 30;
  t.wire().AddRule(r);
}

void SetLinger(Tcb* sk, int on, int secs) {
  Linger l{on, secs};
  ASSERT_EQ(TcpSetsockopt(sk, kSolSocket, kSoLinger, &l, sizeof(l)), 0);
}
void SetLinger2(Tcb* sk, int v) {
  ASSERT_EQ(TcpSetsockopt(sk, kIpprotoTcp, kTcpLinger2, &v, sizeof(v)), 0);
}

struct EvLog {
  std::vector<uint32_t> events;
  static void Cb(Tcb*, uint32_t ev, void* ctx) { static_cast<EvLog*>(ctx)->events.push_back(ev); }
  int CloseDone() const {
    int n = 0;
    for (uint32_t e : events) n += (e & kEvCloseDone) ? 1 : 0;
    return n;
  }
};

// §2 5d, §4: idle ESTABLISHED -> F. at snd_nxt; orphan in FIN_WAIT1.
TEST(CloseTest, IdleCloseSendsFin) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  Out(t);
  const uint32_t nxt = c->snd_nxt, rcv = c->rcv_nxt;
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "F.");
  EXPECT_EQ(a[0].seq, nxt);
  EXPECT_EQ(a[0].ack, rcv);
  EXPECT_EQ(a[0].len, 0u);
  EXPECT_EQ(c->state(), TCP_FIN_WAIT1);
  EXPECT_TRUE(c->flag(SOCK_DEAD));
  EXPECT_EQ(t.a().orphan_count(), 1u);
  EXPECT_EQ(t.a().shared().SumOrphans(), 1);
  t.Run(5 * kMs);
  EXPECT_EQ(s->state(), TCP_CLOSE_WAIT);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_EstabResets), 0);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_CurrEstab), 0);
}

// §2 5b: unread data -> R. seq=snd_nxt ack=rcv_nxt, TCPAbortOnClose, freed.
TEST(CloseTest, UnreadDataResets) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  char buf[100] = {};
  ASSERT_EQ(TcpSend(s, buf, sizeof(buf)), 100);
  t.Run(5 * kMs);
  ASSERT_EQ(TcpReadable(c), 100u);
  Out(t);
  const int64_t rsts = t.mib_a().Get(Mib::Tcp_OutRsts);
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(a[0].ack, s->snd_nxt);
  EXPECT_EQ(a[0].seq, s->rcv_nxt);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnClose), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 0);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_OutRsts), rsts + 1);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_EstabResets), 1);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
}

// §2 3: the peer's FIN byte is not unread data: CLOSE_WAIT -> F., LAST_ACK,
// freed on the ACK (no TIME_WAIT).
TEST(CloseTest, CloseWaitFinOnlyGoesLastAck) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  ASSERT_EQ(TcpShutdown(s, kShutWr), 0);
  t.Run(5 * kMs);
  ASSERT_EQ(c->state(), TCP_CLOSE_WAIT);
  char b[8];
  ASSERT_EQ(TcpRecv(c, b, sizeof(b)), 0);
  Out(t);
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "F.");
  EXPECT_EQ(c->state(), TCP_LAST_ACK);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnClose), 0);
  t.Run(50 * kMs);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
}

// §2 5c, §7: SO_LINGER {1,0} -> R. at snd_nxt, TCPAbortOnData; with unread
// data only TCPAbortOnClose.
TEST(CloseTest, LingerZeroAborts) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  SetLinger(c, 1, 0);
  Out(t);
  const uint32_t nxt = c->snd_nxt;
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(a[0].seq, nxt);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnClose), 0);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_EstabResets), 1);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
}

TEST(CloseTest, LingerZeroWithUnreadCountsAbortOnCloseOnly) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  char buf[10] = {};
  ASSERT_EQ(TcpSend(s, buf, sizeof(buf)), 10);
  t.Run(5 * kMs);
  SetLinger(c, 1, 0);
  Out(t);
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnClose), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 0);
}

// §7: {1,0} in FIN_WAIT1 -> R. seq after the FIN; in LAST_ACK with the FIN
// sent -> nothing.
TEST(CloseTest, LingerZeroInFinWait1AndLastAck) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  DropAll(t, WireDir::kAtoB);
  ASSERT_EQ(TcpShutdown(c, kShutWr), 0);
  ASSERT_EQ(c->state(), TCP_FIN_WAIT1);
  SetLinger(c, 1, 0);
  Out(t);
  const uint32_t nxt = c->snd_nxt;
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(a[0].seq, nxt);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_EstabResets), 0);  // FIN_WAIT1 is not ESTABLISHED

  // LAST_ACK: B got no FIN from A; B shuts down, A is gone, so use B's side:
  // B in CLOSE_WAIT? Build a fresh pair instead.
  TwoStacks u;
  auto [c2, s2] = u.Connect(81);
  ASSERT_EQ(TcpShutdown(s2, kShutWr), 0);
  u.Run(5 * kMs);
  DropAll(u, WireDir::kBtoA);
  ASSERT_EQ(TcpShutdown(c2, kShutWr), 0);  // F. from CLOSE_WAIT -> LAST_ACK
  ASSERT_EQ(c2->state(), TCP_LAST_ACK);
  char b[4];
  ASSERT_EQ(TcpRecv(c2, b, sizeof(b)), 0);
  SetLinger(c2, 1, 0);
  Out(u);
  ASSERT_EQ(TcpClose(c2), 0);
  EXPECT_TRUE(From(Out(u), WireDir::kAtoB).empty());
  EXPECT_EQ(u.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 1);
  EXPECT_EQ(u.a().sockets_in_use(), 0u);
}

// §3: SYN_SENT -> CLOSE, nothing sent, AttemptFails unchanged.
TEST(CloseTest, SynSentCloseIsSilent) {
  TwoStacks t;
  DropAll(t, WireDir::kAtoB);
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 99), -EINPROGRESS);
  Out(t);
  ASSERT_EQ(TcpClose(c), 0);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_AttemptFails), 0);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  t.Run(3 * kSec);
  EXPECT_TRUE(Out(t).empty());  // no SYN retransmission
}

// §6 shutdown.
TEST(CloseTest, ShutdownErrors) {
  TwoStacks t;
  Tcb* x = TcpSocket(t.a());
  EXPECT_EQ(TcpShutdown(x, 3), -EINVAL);
  EXPECT_EQ(TcpShutdown(x, -1), -EINVAL);
  EXPECT_EQ(TcpShutdown(x, kShutRdWr), -ENOTCONN);
  EXPECT_EQ(x->sk_shutdown, SHUTDOWN_MASK);  // flags still set
  TcpClose(x);
  EXPECT_TRUE(Out(t).empty());
}

TEST(CloseTest, ShutRdSendsNothingReadsDrainThenZero) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  Out(t);
  ASSERT_EQ(TcpShutdown(c, kShutRd), 0);
  EXPECT_TRUE(Out(t).empty());
  char b[200];
  EXPECT_EQ(TcpRecv(c, b, sizeof(b)), 0);
  char d[100] = {};
  ASSERT_EQ(TcpSend(s, d, sizeof(d)), 100);
  t.Run(50 * kMs);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a.back().Flags(), ".");
  EXPECT_EQ(a.back().ack, s->snd_nxt);  // still ACKed and queued
  EXPECT_EQ(TcpRecv(c, b, sizeof(b)), 100);
  EXPECT_EQ(TcpRecv(c, b, sizeof(b)), 0);
  EXPECT_EQ(c->state(), TCP_ESTABLISHED);
}

TEST(CloseTest, ShutdownSynSentDisconnectsSilently) {
  TwoStacks t;
  DropAll(t, WireDir::kAtoB);
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 99), -EINPROGRESS);
  Out(t);
  EXPECT_EQ(TcpShutdown(c, kShutWr), 0);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(c->state(), TCP_CLOSE);
  EXPECT_EQ(TcpSockError(c), ECONNRESET);
  TcpClose(c);
}

TEST(CloseTest, ShutdownListener) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 90), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 90), -EINPROGRESS);
  t.Run(20 * kMs);
  ASSERT_EQ(c->state(), TCP_ESTABLISHED);
  Out(t);
  EXPECT_EQ(TcpShutdown(l, kShutWr), 0);  // no-op
  EXPECT_EQ(l->state(), TCP_LISTEN);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(TcpShutdown(l, kShutRd), 0);
  auto b = From(Out(t), WireDir::kBtoA);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].Flags(), "R.");
  EXPECT_EQ(b[0].seq, c->rcv_nxt);
  EXPECT_EQ(b[0].ack, c->snd_nxt);
  EXPECT_EQ(l->state(), TCP_CLOSE);
  Tcb* child = nullptr;
  EXPECT_EQ(TcpAccept(l, &child), -EINVAL);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_EstabResets), 1);
  EXPECT_EQ(t.b().orphan_count(), 0u);
  EXPECT_EQ(TcpListen(l, 16), 0);  // listen works again on the bound port
  t.Run(5 * kMs);
  EXPECT_EQ(c->state(), TCP_CLOSE);
  TcpClose(l);
  TcpClose(c);
}

// §13: listener close: accept-queue children get R. (ESTABLISHED, CLOSE_WAIT),
// nothing for a reset child; orphan count +1 -1.
TEST(CloseTest, ListenerCloseResetsUnacceptedChildren) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 90), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  Tcb* c1 = TcpSocket(t.a());
  Tcb* c2 = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c1, kIpB, 90), -EINPROGRESS);
  ASSERT_EQ(TcpConnect(c2, kIpB, 90), -EINPROGRESS);
  t.Run(20 * kMs);
  ASSERT_EQ(TcpShutdown(c2, kShutWr), 0);  // its child goes CLOSE_WAIT
  t.Run(20 * kMs);
  Out(t);
  const int64_t rsts = t.mib_b().Get(Mib::Tcp_OutRsts);
  ASSERT_EQ(TcpClose(l), 0);
  auto b = From(Out(t), WireDir::kBtoA);
  ASSERT_EQ(b.size(), 2u);
  for (const auto& sg : b) EXPECT_EQ(sg.Flags(), "R.");
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_OutRsts), rsts + 2);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_EstabResets), 2);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_CurrEstab), 0);
  EXPECT_EQ(t.b().orphan_count(), 0u);
  t.Run(5 * kMs);
  EXPECT_EQ(t.b().sockets_in_use(), 0u);
  EXPECT_EQ(c1->state(), TCP_CLOSE);
  TcpClose(c1);
  TcpClose(c2);
}

// §13: a half-open request is dropped silently; the late ACK gets R <ack>.
TEST(CloseTest, ListenerCloseDropsHalfOpen) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 90), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  DropAll(t, WireDir::kBtoA);  // the SYN-ACK never arrives
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 90), -EINPROGRESS);
  t.Run(5 * kMs);
  Out(t);
  ASSERT_EQ(TcpClose(l), 0);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(t.b().sockets_in_use(), 0u);
  t.Run(5 * kSec);
  auto b = From(Out(t), WireDir::kBtoA);
  for (const auto& sg : b) EXPECT_NE(sg.Flags(), "S.");  // no SYN-ACK retransmit
}

// §9: data for an orphan in FIN_WAIT1 -> TCPAbortOnData, R <their ack>.
TEST(CloseTest, DataToOrphanFinWait1Resets) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  DropAll(t, WireDir::kBtoA);
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(5 * kMs);
  ASSERT_EQ(s->state(), TCP_CLOSE_WAIT);
  t.wire().ClearRules();
  Out(t);
  char d[100] = {};
  ASSERT_EQ(TcpSend(s, d, sizeof(d)), 100);
  t.Run(5 * kMs);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R");
  EXPECT_EQ(a[0].seq, s->rcv_nxt);  // their ack (it ACKs our FIN)
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 1);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(s->state(), TCP_CLOSE);
}

// §2 step 8: linger2 < 0 at close in FIN_WAIT2 -> R., TCPAbortOnLinger.
TEST(CloseTest, Linger2NegativeAtCloseInFinWait2) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  ASSERT_EQ(TcpShutdown(c, kShutWr), 0);
  t.Run(300 * kMs);  // the FIN's ACK is delayed (pingpong)
  ASSERT_EQ(c->state(), TCP_FIN_WAIT2);
  t.Run(200 * kSec);  // a non-orphan FIN_WAIT2 has no timer
  ASSERT_EQ(c->state(), TCP_FIN_WAIT2);
  SetLinger2(c, -1);
  Out(t);
  const uint32_t nxt = c->snd_nxt;
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(5 * kMs);  // the ARP entry expired during the 200 s: re-resolve first
  auto a = From(t.NewSegments(), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(a[0].seq, nxt);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnLinger), 1);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
}

// §9/§10: linger2 < 0, close in ESTABLISHED: the FIN's ACK -> R, TCPAbortOnData.
TEST(CloseTest, Linger2NegativeFinAckResets) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  SetLinger2(c, -1);
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(50 * kMs);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_GE(a.size(), 2u);
  EXPECT_EQ(a[a.size() - 2].Flags(), "F.");
  EXPECT_EQ(a.back().Flags(), "R");
  EXPECT_EQ(a.back().seq, a[a.size() - 2].seq + 1);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnLinger), 0);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(s->state(), TCP_CLOSE);
}

// §10: tcp_fin_timeout 30 s: straight to a FIN_WAIT2 mini-socket (no full
// orphan left at the ACK with time_wait.cc); gone by 30 s.
TEST(CloseTest, FinWait2Timeout30s) {
  TcpStackConfig cfg = TwoStacks::DefaultTcp();
  cfg.sysctl.tcp_fin_timeout = 30;
  TwoStacks t(cfg);
  auto [c, s] = t.Connect(80);
  (void)s;
  EXPECT_EQ(t.a().FinTimeMs(c), 30'000u);
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(29 * kSec);
  EXPECT_LE(t.a().sockets_in_use(), 1u);
  t.Run(2 * kSec);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(t.a().orphan_count(), 0u);
}

// §10: tcp_fin_timeout 90 s: the full orphan stays 30 s on the keepalive
// timer, then 30 s as a mini-socket: gone at 60 s, not 90 s.
TEST(CloseTest, FinWait2Timeout90s) {
  TcpStackConfig cfg = TwoStacks::DefaultTcp();
  cfg.sysctl.tcp_fin_timeout = 90;
  TwoStacks t(cfg);
  auto [c, s] = t.Connect(80);
  (void)s;
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(29 * kSec);
  EXPECT_EQ(c->state(), TCP_FIN_WAIT2);
  EXPECT_EQ(t.a().orphan_count(), 1u);
  EXPECT_EQ(t.a().sockets_in_use(), 1u);
  t.Run(31 * kSec + 100 * kMs);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnTimeout), 0);
}

// §10: TCP_LINGER2 setsockopt semantics.
TEST(CloseTest, Linger2Sockopt) {
  TwoStacks t;
  Tcb* x = TcpSocket(t.a());
  int v = 0;
  size_t len = sizeof(v);
  SetLinger2(x, 500);
  EXPECT_EQ(x->linger2, 120'000);
  SetLinger2(x, -5);
  EXPECT_EQ(x->linger2, -1);
  ASSERT_EQ(TcpGetsockopt(x, kIpprotoTcp, kTcpLinger2, &v, &len), 0);
  EXPECT_EQ(v, -1);
  SetLinger2(x, 0);
  ASSERT_EQ(TcpGetsockopt(x, kIpprotoTcp, kTcpLinger2, &v, &len), 0);
  EXPECT_EQ(v, 60);
  TcpClose(x);
}

// §2 step 9 / §11: 11 orphans with tcp_max_orphans = 10. The 100 ms cache
// does not count them at first; a close after the next tick sends F. then
// R. (TCPAbortOnMemory); the others die on their RTO (tcp_out_of_resources).
TEST(CloseTest, OrphanLimitAbort) {
  TcpStackConfig cfg = TwoStacks::DefaultTcp();
  cfg.sysctl.tcp_max_orphans = 10;
  TwoStacks t(cfg);
  std::vector<Tcb*> cs;
  for (int i = 0; i < 12; ++i) cs.push_back(t.Connect(static_cast<uint16_t>(100 + i)).first);
  DropAll(t, WireDir::kAtoB);
  for (int i = 0; i < 11; ++i) ASSERT_EQ(TcpClose(cs[i]), 0);
  EXPECT_EQ(t.a().orphan_count(), 11u);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnMemory), 0);
  t.Run(120 * kMs);  // next orphan-cache tick, before the first RTO (>= 200 ms)
  EXPECT_EQ(t.a().orphan_count(), 11u);
  Out(t);
  const uint32_t nxt = cs[11]->snd_nxt;
  ASSERT_EQ(TcpClose(cs[11]), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].Flags(), "F.");
  EXPECT_EQ(a[0].seq, nxt);
  EXPECT_EQ(a[1].Flags(), "R.");
  EXPECT_EQ(a[1].seq, nxt + 1);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnMemory), 1);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_EstabResets), 0);
  EXPECT_EQ(t.a().orphan_count(), 11u);
  t.Run(2 * kSec);  // each RTO: tcp_out_of_resources -> R., TCPAbortOnMemory
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnMemory), 12);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnTimeout), 0);
}

// §11: tcp_orphan_retries: an orphan whose FIN is never ACKed gives up
// silently (TCPAbortOnTimeout, no RST) after 8 retries (~102 s from 200 ms).
TEST(CloseTest, OrphanRetriesSilentAbort) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  DropAll(t, WireDir::kAtoB);
  ASSERT_EQ(TcpClose(c), 0);
  Out(t);
  t.Run(95 * kSec);
  EXPECT_EQ(t.a().orphan_count(), 1u);
  t.Run(40 * kSec);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnTimeout), 1);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_FALSE(a.empty());
  for (const auto& sg : a) EXPECT_EQ(sg.Flags(), "F.");  // retransmits, no RST
  EXPECT_EQ(a.size(), 8u);
}

// §4 branch 2: memory pressure, nothing unsent, data in flight: FIN rides on
// the last sent segment, nothing sent at close, FP. at the RTO.
TEST(CloseTest, MemoryPressureFinPiggyback) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  DropAll(t, WireDir::kBtoA);
  char d[1000] = {};
  ASSERT_EQ(TcpSend(c, d, sizeof(d)), 1000);
  const uint32_t start = c->snd_una;
  t.a().shared().memory_pressure.store(true);
  Out(t);
  ASSERT_EQ(TcpClose(c), 0);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(c->snd_nxt, start + 1001);
  EXPECT_EQ(c->write_seq, start + 1001);
  t.a().shared().memory_pressure.store(false);
  t.Run(1500 * kMs);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a[0].Flags(), "FP.");
  EXPECT_EQ(a[0].seq, start);
  EXPECT_EQ(a[0].len, 1000u);
  t.wire().ClearRules();
  t.Run(3 * kSec);
  EXPECT_EQ(s->rcv_nxt - s->copied_seq, 1000u + 1);  // data + FIN arrived
}

// §4 branch 1: unsent tail (peer window closed by cwnd) gets the FIN.
TEST(CloseTest, FinOnUnsentTail) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  DropAll(t, WireDir::kBtoA);
  std::vector<char> d(20 * 1448, 1);
  ASSERT_GT(TcpSend(c, d.data(), d.size()), 0);
  ASSERT_FALSE(c->write_queue.empty());
  const uint32_t ws = c->write_seq;
  Out(t);
  ASSERT_EQ(TcpClose(c), 0);
  EXPECT_TRUE(Out(t).empty());  // cwnd-limited: nothing at close
  EXPECT_EQ(c->write_seq, ws + 1);
  EXPECT_TRUE(Seg(c->write_queue.tail)->tcp_flags & TCPHDR_FIN);
  t.wire().ClearRules();
  t.Run(10 * kSec);
  auto a = From(Out(t), WireDir::kAtoB);
  int fins = 0;
  for (const auto& sg : a)
    if (sg.flags & TCPHDR_FIN) {
      ++fins;
      EXPECT_GT(sg.len, 0u);  // FIN rides on data, no extra segment
      EXPECT_EQ(sg.seq + sg.len, ws);
    }
  EXPECT_GE(fins, 1);
}

// §8: SO_LINGER {1,5}: kEvCloseDone when the FIN is ACKed.
TEST(CloseTest, LingerCompletes) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  EvLog log;
  TcpSetCallback(c, &EvLog::Cb, &log);
  SetLinger(c, 1, 5);
  ASSERT_EQ(TcpClose(c), 0);
  EXPECT_EQ(log.CloseDone(), 0);
  EXPECT_FALSE(c->flag(SOCK_DEAD));  // not an orphan while lingering
  EXPECT_EQ(t.a().orphan_count(), 0u);
  t.Run(300 * kMs);  // the peer's ACK of a FIN is delayed (pingpong)
  EXPECT_EQ(log.CloseDone(), 1);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);  // FIN_WAIT2 -> mini-socket: the TCB is gone
  t.Run(6 * kSec);
  EXPECT_EQ(log.CloseDone(), 1);
}

// §8: expiry does not abort: kEvCloseDone at 2 s, no RST, orphan FIN_WAIT1.
TEST(CloseTest, LingerExpires) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  DropAll(t, WireDir::kBtoA);
  EvLog log;
  TcpSetCallback(c, &EvLog::Cb, &log);
  SetLinger(c, 1, 2);
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(1900 * kMs);
  EXPECT_EQ(log.CloseDone(), 0);
  t.Run(200 * kMs);
  EXPECT_EQ(log.CloseDone(), 1);
  EXPECT_EQ(c->state(), TCP_FIN_WAIT1);
  EXPECT_TRUE(c->flag(SOCK_DEAD));
  EXPECT_EQ(t.a().orphan_count(), 1u);
  for (const auto& sg : From(t.AllSegments(), WireDir::kAtoB)) EXPECT_FALSE(sg.flags & TCPHDR_RST);
}

// §1: on process exit the linger time is ignored; {1,0} still aborts.
TEST(CloseTest, ExitingIgnoresLinger) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  (void)s;
  EvLog log;
  TcpSetCallback(c, &EvLog::Cb, &log);
  SetLinger(c, 1, 30);
  Out(t);
  ASSERT_EQ(TcpCloseExiting(c), 0);
  EXPECT_TRUE(c->flag(SOCK_DEAD));
  EXPECT_EQ(log.CloseDone(), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "F.");

  TwoStacks u;
  auto [c2, s2] = u.Connect(81);
  (void)s2;
  SetLinger(c2, 1, 0);
  Out(u);
  ASSERT_EQ(TcpCloseExiting(c2), 0);
  auto b = From(Out(u), WireDir::kAtoB);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].Flags(), "R.");
  EXPECT_EQ(u.mib_a().Get(Mib::TcpExt_TCPAbortOnData), 1);
}

// §9 tcp_fin: simultaneous close -> CLOSING, ACKs, no resets.
TEST(CloseTest, SimultaneousClose) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  const uint32_t an = c->snd_nxt, bn = s->snd_nxt;
  Out(t);
  ASSERT_EQ(TcpClose(c), 0);
  ASSERT_EQ(TcpClose(s), 0);
  t.Run(500 * kMs);
  auto segs = Out(t);
  auto a = From(segs, WireDir::kAtoB), b = From(segs, WireDir::kBtoA);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].Flags(), "F.");
  EXPECT_EQ(a[0].seq, an);
  EXPECT_EQ(a[1].Flags(), ".");
  EXPECT_EQ(a[1].seq, an + 1);
  EXPECT_EQ(a[1].ack, bn + 1);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].Flags(), "F.");
  EXPECT_EQ(b[1].Flags(), ".");
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_OutRsts), 0);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_OutRsts), 0);
}

// LAST_ACK: a lost FIN is retransmitted by the RTO; the ACK frees the orphan.
TEST(CloseTest, LastAckRetransmits) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  ASSERT_EQ(TcpShutdown(s, kShutWr), 0);
  t.Run(5 * kMs);
  char b[4];
  ASSERT_EQ(TcpRecv(c, b, sizeof(b)), 0);
  DropAll(t, WireDir::kAtoB);
  Out(t);
  const uint32_t nxt = c->snd_nxt;
  ASSERT_EQ(TcpClose(c), 0);
  ASSERT_EQ(c->state(), TCP_LAST_ACK);
  t.Run(700 * kMs);
  std::vector<WireSeg> a;  // (B retransmits its FIN too: A's ACKs are dropped)
  for (const auto& sg : From(Out(t), WireDir::kAtoB))
    if (sg.flags & TCPHDR_FIN) a.push_back(sg);
  ASSERT_EQ(a.size(), 3u);  // FIN, RTO ~200 ms, ~600 ms
  for (const auto& sg : a) {
    EXPECT_EQ(sg.Flags(), "F.");
    EXPECT_EQ(sg.seq, nxt);
  }
  t.wire().ClearRules();
  t.Run(2 * kSec);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(t.a().orphan_count(), 0u);
}

// §11 + memory accounting: pressure entered above tcp_mem[1], left below
// tcp_mem[0]; out of memory at close -> R. at snd_nxt (FIN unsent),
// TCPAbortOnMemory; socket memory returns to zero.
TEST(CloseTest, MemoryAccountingPressureAndOom) {
  TcpStackConfig cfg = TwoStacks::DefaultTcp();
  cfg.sysctl.tcp_mem[0] = 20;
  cfg.sysctl.tcp_mem[1] = 40;
  cfg.sysctl.tcp_mem[2] = 60;
  TwoStacks t(cfg);
  auto [c, s] = t.Connect(80);
  (void)s;
  DropAll(t, WireDir::kAtoB);
  int sz = 212992;
  ASSERT_EQ(TcpSetsockopt(c, kSolSocket, kSoSndbuf, &sz, sizeof(sz)), 0);
  std::vector<char> d(400000, 1);
  ASSERT_GT(TcpSend(c, d.data(), d.size()), 200000);
  EXPECT_GT(c->mem_pages, 64u);
  EXPECT_GT(t.a().MemoryAllocated(), 60);
  EXPECT_TRUE(t.a().UnderMemoryPressure());
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPMemoryPressures), 1);
  Out(t);
  const uint32_t nxt = c->snd_nxt;
  ASSERT_EQ(TcpClose(c), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(a[0].seq, nxt);
  EXPECT_EQ(t.mib_a().Get(Mib::TcpExt_TCPAbortOnMemory), 1);
  t.Run(1 * kMs);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  t.a().MemFlush();
  EXPECT_EQ(t.a().MemoryAllocated(), 0);
  EXPECT_FALSE(t.a().UnderMemoryPressure());
}

// Receive memory is charged and returned too.
TEST(CloseTest, ReceiveMemoryReturnsToZero) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  std::vector<char> d(60000, 1);
  ASSERT_GT(TcpSend(s, d.data(), d.size()), 0);
  t.Run(50 * kMs);
  EXPECT_GT(c->mem_pages, 0u);
  ASSERT_EQ(TcpClose(c), 0);  // unread -> RST, freed
  ASSERT_EQ(TcpClose(s), 0);
  t.Run(100 * kMs);
  t.a().MemFlush();
  t.b().MemFlush();
  EXPECT_EQ(t.a().MemoryAllocated(), 0);
  EXPECT_EQ(t.b().MemoryAllocated(), 0);
}

}  // namespace
}  // namespace dpx::tcp::testing
