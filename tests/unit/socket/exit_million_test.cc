// A process owning 1,000,000 connections exits on the in-memory wire
// (20,000 under the sanitizers; DPX_EXIT_CONNS overrides): every connection
// ends in the state Linux would put it in, the core never runs more than
// the exit batch of closes between two polls, and once TIME_WAIT has
// expired in virtual time every pool is back to its starting count.
//
// Stack A (core 0) holds the client ends, owned by process "worker"; stack
// B (core 1) holds the server ends, owned by process "peer". The worker
// exits: A sends a FIN per connection and each socket is an orphan in
// FIN_WAIT1; B's ACK moves it to a TIME_WAIT mini-socket in its FIN_WAIT2
// substate (tcp_rcv_state_process: an orphan with tcp_fin_time <= 60 s).
// B's ends sit in CLOSE_WAIT (still counted in CurrEstab). The peer exits:
// B sends FINs from CLOSE_WAIT (LAST_ACK), the mini-sockets ACK them and
// B's sockets close. 60 s later the TIME_WAIT mini-sockets expire.
#include <cstdlib>
#include <vector>

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"
#include "net/wire.h"
#include "socket/process.h"
#include "support/eal_env.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_stack.h"

namespace dpx::sock {
namespace {

using tcp::Tcb;

#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kDefaultConns = 20'000;
#else
constexpr uint64_t kDefaultConns = 1'000'000;
#endif

// Room for the pool below: every FIN waits in its retransmit queue for the
// peer's (delayed) ACK, and the whole exit happens at one virtual instant.
const bool kBigEal = [] {
  setenv("DPX_TEST_EAL_MB", "3072", /*overwrite=*/0);
  return true;
}();

uint64_t Conns() {
  if (const char* e = std::getenv("DPX_EXIT_CONNS")) return std::strtoull(e, nullptr, 10);
  return kDefaultConns;
}

constexpr uint32_t kIpA = Ipv4Addr(10, 0, 0, 1);
constexpr uint32_t kIpB = Ipv4Addr(10, 0, 0, 2);
constexpr uint32_t kBatch = 64;

tcp::TcpStackConfig StackCfg(uint64_t n, uint64_t seed) {
  tcp::TcpStackConfig c;
  c.ehash_buckets = 1;
  while (c.ehash_buckets < n) c.ehash_buckets <<= 1;
  c.secret_seed = seed;
  c.sysctl.ip_local_port_range[0] = 1024;
  c.sysctl.ip_local_port_range[1] = 65535;
  c.sysctl.somaxconn = 65535;
  c.sysctl.tcp_max_syn_backlog = 65535;
  c.sysctl.tcp_max_tw_buckets = static_cast<uint32_t>(2 * n);
  c.sysctl.tcp_max_orphans = static_cast<uint32_t>(2 * n);
  return c;
}

WireConfig WireCfg() {
  WireConfig w;
  w.a.mac = {{0x02, 0, 0, 0, 0, 0x0a}};
  w.b.mac = {{0x02, 0, 0, 0, 0, 0x0b}};
  w.capture = false;  // millions of frames
  return w;
}

IpStackConfig IpCfg(uint32_t ip) {
  IpStackConfig c;
  c.ip = ip;
  c.prefix_len = 24;
  return c;
}

TEST(ExitMillion, EveryConnectionClosesByStateAndNothingLeaks) {
  const uint64_t n = Conns();
  // Small mbufs (control segments only): one FIN per connection waits in a
  // retransmit queue while the peer's delayed ACKs, all due at one virtual
  // instant, need one each too.
  rte_mempool* pool = rte_pktmbuf_pool_create("exit_pool", static_cast<unsigned>(2 * n + 65536), 256, 0,
                                              RTE_PKTMBUF_HEADROOM + 256, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr) << rte_strerror(rte_errno);
  VirtualClock clock(1'000'000'000);
  Counters mib_a, mib_b;
  Reactor ra(0, &clock, &mib_a), rb(1, &clock, &mib_b);
  Wire wire(clock, pool, WireCfg());
  IpStack ipa(ra, wire.a(), pool, IpCfg(kIpA)), ipb(rb, wire.b(), pool, IpCfg(kIpB));
  ipa.AttachToReactor();
  ipb.AttachToReactor();
  tcp::TcpShared shared;  // one appliance: the two cores share the TCP globals
  tcp::TcpStackConfig ca = StackCfg(n, 1), cb = StackCfg(n, 2);
  ca.shared = cb.shared = &shared;
  ca.core_index = 0;
  cb.core_index = 1;
  tcp::TcpStack a(ra, ipa, ca), b(rb, ipb, cb);
  const std::vector<Reactor*> reactors = {&ra, &rb};
  auto run = [&](uint64_t ns) { RunVirtualUntil(clock, reactors, clock.NowNs() + ns); };

  ProcessTableConfig pc;
  pc.exit_closes_per_iteration = kBatch;
  ProcessTable pt({CoreStack{&ra, &a}, CoreStack{&rb, &b}}, pc);
  auto worker = *pt.Spawn("worker", 0, 1, static_cast<uint32_t>(n + 64));
  auto peer = *pt.Spawn("peer", 1, 1, static_cast<uint32_t>(n + 64));

  const unsigned mbufs0 = rte_mempool_avail_count(pool);
  const size_t a0 = a.sockets_in_use(), b0 = b.sockets_in_use();

  // Listeners on B (one per 60,000 connections: the ephemeral port range).
  const uint64_t per_port = 60'000;
  std::vector<Tcb*> listeners;
  for (uint64_t i = 0; i < (n + per_port - 1) / per_port; ++i) {
    Tcb* l = tcp::TcpSocket(b);
    ASSERT_EQ(tcp::TcpBind(l, 0, static_cast<uint16_t>(5000 + i)), 0);
    ASSERT_EQ(tcp::TcpListen(l, 65535), 0);
    listeners.push_back(l);
  }
  // ARP first, so the first SYNs are not held behind it.
  {
    Tcb* c = tcp::TcpSocket(a);
    ASSERT_EQ(tcp::TcpConnect(c, kIpB, 5000), -EINPROGRESS);
    run(10'000'000);
    Tcb* child = nullptr;
    ASSERT_EQ(tcp::TcpAccept(listeners[0], &child), 0);
    tcp::TcpClose(c);
    tcp::TcpClose(child);
    run(100'000'000);
  }
  const int64_t tw0 = shared.SumTw();
  uint64_t opened = 0, accepted = 0;
  auto accept_all = [&] {
    for (Tcb* l : listeners) {
      Tcb* child = nullptr;
      while (tcp::TcpAccept(l, &child) == 0) {
        ASSERT_GE(pt.InstallFd(*peer, pt.NewFile(1, child)), 0);
        ++accepted;
      }
    }
  };
  while (opened < n) {
    const uint64_t batch = std::min<uint64_t>(4096, n - opened);
    for (uint64_t k = 0; k < batch; ++k, ++opened) {
      Tcb* c = tcp::TcpSocket(a);
      ASSERT_EQ(tcp::TcpConnect(c, kIpB, static_cast<uint16_t>(5000 + opened / per_port)), -EINPROGRESS);
      ASSERT_GE(pt.InstallFd(*worker, pt.NewFile(0, c)), 0);
    }
    run(2'000'000);
    accept_all();
  }
  run(3'000'000'000ull);
  accept_all();
  ASSERT_EQ(accepted, n);
  ASSERT_EQ(mib_a.Get(Mib::Tcp_CurrEstab), static_cast<int64_t>(n));

  // Closes between two polls on each core, measured by the pollers.
  uint64_t max_step[2] = {0, 0};
  uint64_t last[2] = {pt.files_in_use(0), pt.files_in_use(1)};
  for (unsigned core = 0; core < 2; ++core) {
    reactors[core]->AddPoller([&, core] {
      const uint64_t now = pt.files_in_use(core);
      if (last[core] > now) max_step[core] = std::max(max_step[core], last[core] - now);
      last[core] = now;
      return 0u;
    });
  }

  // The worker exits: a FIN each, orphans in FIN_WAIT1, then TIME_WAIT.
  bool reaped = false;
  ASSERT_TRUE(pt.Exit(*worker, 0, 9, [&](Process&) { reaped = true; }));
  run(1'000'000'000);
  ASSERT_TRUE(reaped);
  const ExitCounts& w = worker->exit_counts();
  EXPECT_EQ(w.released, n);
  EXPECT_EQ(w.fins, n);
  EXPECT_EQ(w.rsts, 0u);
  EXPECT_EQ(w.orphans, n);
  EXPECT_LE(w.max_closes_per_iteration, kBatch);
  EXPECT_LE(max_step[0], kBatch);
  EXPECT_EQ(shared.SumOrphans(), 0);
  EXPECT_EQ(shared.SumTw(), tw0 + static_cast<int64_t>(n));
  EXPECT_EQ(a.sockets_in_use(), a0);                         // only mini-sockets left on A
  EXPECT_EQ(mib_b.Get(Mib::Tcp_CurrEstab), static_cast<int64_t>(n));  // CLOSE_WAIT counts
  EXPECT_EQ(pt.files_in_use(0), 0u);

  // The peer exits: FINs from CLOSE_WAIT, ACKed by the mini-sockets.
  reaped = false;
  ASSERT_TRUE(pt.Exit(*peer, 0, 0, [&](Process&) { reaped = true; }));
  run(1'000'000'000);
  ASSERT_TRUE(reaped);
  const ExitCounts& p = peer->exit_counts();
  EXPECT_EQ(p.released, n);
  EXPECT_EQ(p.fins, n);
  EXPECT_EQ(p.rsts, 0u);
  EXPECT_LE(max_step[1], kBatch);
  EXPECT_EQ(p.orphans, n);
  EXPECT_EQ(shared.SumOrphans(), 0);
  EXPECT_EQ(shared.SumTw(), tw0 + static_cast<int64_t>(n));
  EXPECT_EQ(mib_b.Get(Mib::Tcp_CurrEstab), 0);
  EXPECT_EQ(b.sockets_in_use(), b0 + listeners.size());  // LAST_ACK sockets closed on A's ACK

  // TIME_WAIT expires after 60 s: nothing is left behind.
  run(61'000'000'000ull);
  EXPECT_EQ(shared.SumTw(), 0);
  for (Tcb* l : listeners) tcp::TcpClose(l);
  run(1'000'000'000);
  EXPECT_EQ(a.sockets_in_use(), a0);
  EXPECT_EQ(b.sockets_in_use(), b0);
  EXPECT_EQ(pt.files_in_use(0) + pt.files_in_use(1), 0u);
  EXPECT_EQ(rte_mempool_avail_count(pool), mbufs0);
  EXPECT_EQ(shared.SumMemPages(), 0);
  EXPECT_EQ(mib_a.Get(Mib::Drop_NOMEM) + mib_b.Get(Mib::Drop_NOMEM), 0);
  RecordProperty("connections", static_cast<int>(n));
  std::printf("exit of %llu connections: max closes between polls %llu (core 0), %llu (core 1)\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(max_step[0]),
              static_cast<unsigned long long>(max_step[1]));
}

}  // namespace
}  // namespace dpx::sock
