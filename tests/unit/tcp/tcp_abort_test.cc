// ss -K (lib/tcp/tcp_abort): Linux tcp_abort by 4-tuple on two stacks over
// the in-memory wire: the RST on the wire, the states, the error the owner
// sees, the counters.
#include "tcp/tcp_abort.h"

#include <gtest/gtest.h>

#include <vector>

#include "tcp/conn_dump.h"
#include "tcp/time_wait.h"
#include "tcp_harness.h"

namespace dpx::tcp::testing {
namespace {

constexpr uint64_t kMs = 1'000'000;

std::vector<WireSeg> From(const std::vector<WireSeg>& v, WireDir d) {
  std::vector<WireSeg> out;
  for (const auto& s : v)
    if (s.dir == d) out.push_back(s);
  return out;
}

std::vector<WireSeg> Out(TwoStacks& t) {
  t.Settle();
  return t.NewSegments();
}

// Drops every TCP segment in one direction (ARP still passes).
void DropTcp(TwoStacks& t, WireDir d) {
  WireRule r;
  r.dir = d;
  r.action = WireAction::kDrop;
  r.match = [](const rte_mbuf* m, uint64_t) {
    const auto* b = rte_pktmbuf_mtod(m, const uint8_t*);
    return m->data_len > 23 && b[12] == 0x08 && b[13] == 0x00 && b[23] == 6;
  };
  r.times = 1u << 30;
  t.wire().AddRule(r);
}

struct EvLog {
  std::vector<uint32_t> events;
  uint32_t all() const {
    uint32_t m = 0;
    for (uint32_t e : events) m |= e;
    return m;
  }
  static void Cb(Tcb*, uint32_t ev, void* ctx) { static_cast<EvLog*>(ctx)->events.push_back(ev); }
};

int Abort(TcpStack& st, const Tcb* sk) {
  return TcpAbort(st, sk->c.saddr, rte_be_to_cpu_16(sk->c.sport), sk->c.daddr,
                  rte_be_to_cpu_16(sk->c.dport));
}

TEST(TcpAbort, EstablishedSendsRstAndReportsEconnaborted) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  EvLog bev, aev;
  TcpSetCallback(s, &EvLog::Cb, &bev);
  TcpSetCallback(c, &EvLog::Cb, &aev);
  const char data[100] = {};
  ASSERT_EQ(TcpSend(s, data, sizeof(data)), 100);  // in flight, unacked
  Out(t);
  const uint32_t nxt = s->snd_nxt, rcv = s->rcv_nxt;
  const int64_t rsts = t.mib_b().Get(Mib::Tcp_OutRsts);
  const int64_t resets = t.mib_b().Get(Mib::Tcp_EstabResets);
  const int64_t estab = t.mib_b().Get(Mib::Tcp_CurrEstab);
  const int64_t fails = t.mib_b().Get(Mib::Tcp_AttemptFails);

  ASSERT_EQ(Abort(t.b(), s), 0);
  auto b = From(Out(t), WireDir::kBtoA);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].Flags(), "R.");
  EXPECT_EQ(b[0].seq, nxt);
  EXPECT_EQ(b[0].ack, rcv);
  EXPECT_EQ(s->state(), TCP_CLOSE);
  EXPECT_TRUE(s->rtx_queue.empty());
  EXPECT_TRUE(s->write_queue.empty());
  EXPECT_EQ(s->wmem_queued, 0u);
  EXPECT_TRUE(bev.all() & kEvErr);
  EXPECT_TRUE(bev.all() & kEvHup);
  EXPECT_EQ(TcpSockError(s), ECONNABORTED);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_OutRsts), rsts + 1);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_EstabResets), resets + 1);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_CurrEstab), estab - 1);
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_AttemptFails), fails);
  // No TCPAbortOn* counter: tcp_abort counts none.
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_TCPAbortOnClose), 0);
  EXPECT_EQ(t.mib_b().Get(Mib::TcpExt_TCPAbortOnData), 0);

  // The peer gets the RST: ECONNRESET.
  t.Run(5 * kMs);
  EXPECT_EQ(c->state(), TCP_CLOSE);
  EXPECT_EQ(TcpSockError(c), ECONNRESET);
  // Gone from the table: a second abort finds nothing.
  EXPECT_EQ(Abort(t.b(), s), -ENOENT);
  ASSERT_EQ(TcpClose(s), 0);
  ASSERT_EQ(TcpClose(c), 0);
  t.Settle();
  EXPECT_EQ(t.b().sockets_in_use(), 1u);  // the listener
}

TEST(TcpAbort, UnknownTupleIsEnoent) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  Out(t);
  EXPECT_EQ(TcpAbort(t.b(), kIpB, 80, kIpA, 1), -ENOENT);
  EXPECT_EQ(TcpAbort(t.b(), kIpB, 81, 0, 0), -ENOENT);
  // A listener is named by its exact address: 10.0.0.2:80 is not 0.0.0.0:80.
  EXPECT_EQ(TcpAbort(t.b(), kIpB, 80, 0, 0), -ENOENT);
  EXPECT_EQ(TcpAbort(t.a(), kIpB, 80, kIpA, rte_be_to_cpu_16(c->c.sport)), -ENOENT);
  EXPECT_EQ(s->state(), TCP_ESTABLISHED);
  EXPECT_TRUE(Out(t).empty());
}

TEST(TcpAbort, OrphanInFinWait1IsResetAndFreed) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  DropTcp(t, WireDir::kAtoB);  // the FIN stays unacknowledged
  const uint32_t a_sport = rte_be_to_cpu_16(c->c.sport);
  ASSERT_EQ(TcpClose(c), 0);
  Out(t);
  EXPECT_EQ(t.a().orphan_count(), 1u);
  const int64_t rsts = t.mib_a().Get(Mib::Tcp_OutRsts);
  ASSERT_EQ(TcpAbort(t.a(), kIpA, static_cast<uint16_t>(a_sport), kIpB, 80), 0);
  auto a = From(Out(t), WireDir::kAtoB);
  ASSERT_EQ(a.size(), 1u);  // captured (then dropped by the rule)
  EXPECT_EQ(a[0].Flags(), "R.");
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_OutRsts), rsts + 1);
  EXPECT_EQ(t.a().orphan_count(), 0u);
  EXPECT_EQ(t.a().sockets_in_use(), 0u);
  EXPECT_EQ(TcpAbort(t.a(), kIpA, static_cast<uint16_t>(a_sport), kIpB, 80), -ENOENT);
}

TEST(TcpAbort, TimeWaitMiniSocketIsRemovedSilently) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  const uint16_t a_sport = rte_be_to_cpu_16(c->c.sport);
  ASSERT_EQ(TcpClose(c), 0);
  t.Run(10 * kMs);
  ASSERT_EQ(TcpClose(s), 0);
  t.Run(10 * kMs);
  ASSERT_EQ(TwCount(t.a()), 1u);
  ASSERT_EQ(t.a().shared().SumTw(), 1);
  Out(t);
  Counters before = t.mib_a();
  ASSERT_EQ(TcpAbort(t.a(), kIpA, a_sport, kIpB, 80), 0);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(TwCount(t.a()), 0u);
  EXPECT_EQ(t.a().shared().SumTw(), 0);
  for (size_t i = 0; i < kMibCount; ++i)
    EXPECT_EQ(t.mib_a().Get(static_cast<Mib>(i)), before.Get(static_cast<Mib>(i)))
        << MibNstatName(static_cast<Mib>(i));
  EXPECT_TRUE(SummarizeConns(t.a()).timewait == 0);
  EXPECT_EQ(TcpAbort(t.a(), kIpA, a_sport, kIpB, 80), -ENOENT);
}

TEST(TcpAbort, ListenerStopsAndItsChildrenAreReset) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  EvLog lev;
  TcpSetCallback(l, &EvLog::Cb, &lev);
  ASSERT_EQ(TcpBind(l, 0, 80), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
  t.Run(20 * kMs);  // one child waits in the accept queue
  ASSERT_EQ(l->lq->ack_backlog, 1u);
  Out(t);
  const int64_t rsts = t.mib_b().Get(Mib::Tcp_OutRsts);
  ASSERT_EQ(TcpAbort(t.b(), 0, 80, 0, 0), 0);
  auto b = From(Out(t), WireDir::kBtoA);
  ASSERT_EQ(b.size(), 1u);  // the child's RST (inet_child_forget); none of its own
  EXPECT_EQ(b[0].Flags(), "R.");
  EXPECT_EQ(b[0].dport, rte_be_to_cpu_16(c->c.sport));
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_OutRsts), rsts + 1);
  EXPECT_EQ(l->state(), TCP_CLOSE);
  EXPECT_TRUE(lev.all() & kEvErr);
  EXPECT_EQ(TcpSockError(l), ECONNABORTED);
  Tcb* child = nullptr;
  EXPECT_EQ(TcpAccept(l, &child), -EINVAL);
  EXPECT_EQ(TcpAbort(t.b(), 0, 80, 0, 0), -ENOENT);
  t.Run(5 * kMs);
  EXPECT_EQ(c->state(), TCP_CLOSE);
  EXPECT_EQ(TcpSockError(c), ECONNRESET);
  ASSERT_EQ(TcpClose(l), 0);
  t.Settle();
  EXPECT_EQ(t.b().sockets_in_use(), 0u);
}

TEST(TcpAbort, SynRecvRequestIsDroppedSilently) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 80), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  DropTcp(t, WireDir::kBtoA);
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
  t.Run(5 * kMs);
  ASSERT_EQ(l->lq->syn_qlen, 1u);
  Out(t);
  Counters before = t.mib_b();
  ASSERT_EQ(TcpAbort(t.b(), kIpB, 80, kIpA, rte_be_to_cpu_16(c->c.sport)), 0);
  EXPECT_TRUE(From(Out(t), WireDir::kBtoA).empty());
  EXPECT_EQ(l->lq->syn_qlen, 0u);
  EXPECT_EQ(l->lq->syn_q, nullptr);
  EXPECT_EQ(t.b().sockets_in_use(), 1u);
  for (size_t i = 0; i < kMibCount; ++i)
    EXPECT_EQ(t.mib_b().Get(static_cast<Mib>(i)), before.Get(static_cast<Mib>(i)))
        << MibNstatName(static_cast<Mib>(i));
  EXPECT_EQ(l->state(), TCP_LISTEN);
  // The SYN retransmission (after 1 s) makes a new request.
  t.Run(1100 * kMs);
  EXPECT_EQ(l->lq->syn_qlen, 1u);
}

TEST(TcpAbort, SynSentNoRstAttemptFails) {
  TwoStacks t;
  DropTcp(t, WireDir::kAtoB);
  Tcb* c = TcpSocket(t.a());
  EvLog ev;
  TcpSetCallback(c, &EvLog::Cb, &ev);
  ASSERT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
  Out(t);
  const int64_t fails = t.mib_a().Get(Mib::Tcp_AttemptFails);
  const int64_t rsts = t.mib_a().Get(Mib::Tcp_OutRsts);
  ASSERT_EQ(Abort(t.a(), c), 0);
  EXPECT_TRUE(Out(t).empty());
  EXPECT_EQ(c->state(), TCP_CLOSE);
  EXPECT_TRUE(ev.all() & kEvErr);
  EXPECT_EQ(TcpSockError(c), ECONNABORTED);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_AttemptFails), fails + 1);
  EXPECT_EQ(t.mib_a().Get(Mib::Tcp_OutRsts), rsts);
  EXPECT_FALSE(c->retransmit_timer.armed());
  ASSERT_EQ(TcpClose(c), 0);
}

TEST(TcpAbort, CloseWaitAndLastAck) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  ASSERT_EQ(TcpShutdown(c, kShutWr), 0);  // B: CLOSE_WAIT
  t.Run(10 * kMs);
  ASSERT_EQ(s->state(), TCP_CLOSE_WAIT);
  const int64_t resets = t.mib_b().Get(Mib::Tcp_EstabResets);
  Out(t);
  ASSERT_EQ(Abort(t.b(), s), 0);
  auto b = From(Out(t), WireDir::kBtoA);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].Flags(), "R.");
  EXPECT_EQ(t.mib_b().Get(Mib::Tcp_EstabResets), resets + 1);

  // LAST_ACK: tcp_need_reset is false, nothing is sent.
  TwoStacks t2;
  auto [c2, s2] = t2.Connect(80);
  DropTcp(t2, WireDir::kBtoA);
  ASSERT_EQ(TcpShutdown(c2, kShutWr), 0);
  t2.Run(10 * kMs);
  ASSERT_EQ(TcpClose(s2), 0);  // B: LAST_ACK orphan, its FIN lost
  Out(t2);
  ASSERT_EQ(s2->state(), TCP_LAST_ACK);
  const uint16_t port = rte_be_to_cpu_16(c2->c.sport);
  ASSERT_EQ(TcpAbort(t2.b(), kIpB, 80, kIpA, port), 0);
  EXPECT_TRUE(Out(t2).empty());
  EXPECT_EQ(t2.b().orphan_count(), 0u);
  EXPECT_EQ(t2.b().sockets_in_use(), 1u);  // the listener
}

}  // namespace
}  // namespace dpx::tcp::testing
