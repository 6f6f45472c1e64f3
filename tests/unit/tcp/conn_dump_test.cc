// The ss-like connection view (lib/tcp/conn_dump): rows, timers as ss -o
// prints them, filters, the resumable dump and the ss -s summary.
#include "tcp/conn_dump.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tcp_harness.h"

namespace dpx::tcp::testing {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kSec = 1'000'000'000;

std::vector<ConnRow> DumpAll(TcpStack& st, const ConnFilter& f = {}, OwnerFn owner = nullptr) {
  ConnDumper d(st, f, owner);
  std::vector<ConnRow> rows;
  while (d.Next(&rows, 1000)) {
  }
  return rows;
}

const ConnRow* Find(const std::vector<ConnRow>& rows, TcpState st) {
  for (const auto& r : rows)
    if (r.state == st) return &r;
  return nullptr;
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

// An owner table for the OwnerFn (lib/socket's SockOwner in the appliance).
std::map<const Tcb*, std::pair<int, int>>& Owners() {
  static std::map<const Tcb*, std::pair<int, int>> m;
  return m;
}
bool TestOwner(const Tcb* sk, int* pid, int* fd) {
  auto it = Owners().find(sk);
  if (it == Owners().end()) return false;
  *pid = it->second.first;
  *fd = it->second.second;
  return true;
}

TEST(ConnDump, ListenerAndEstablishedRows) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  ASSERT_NE(s, nullptr);
  Owners().clear();
  Owners()[t.listener()] = {101, 3};
  Owners()[s] = {101, 4};

  auto rows = DumpAll(t.b(), {}, TestOwner);
  ASSERT_EQ(rows.size(), 2u);
  // Listeners come first (the listener table, then the established hash).
  EXPECT_EQ(rows[0].state, TCP_LISTEN);
  EXPECT_EQ(rows[0].recv_q, 0u);
  EXPECT_EQ(rows[0].send_q, 128u);  // the backlog
  EXPECT_EQ(FormatAddrPort(rows[0].laddr, rows[0].lport), "0.0.0.0:80");
  EXPECT_EQ(FormatAddrPort(rows[0].raddr, rows[0].rport), "0.0.0.0:*");
  EXPECT_EQ(rows[0].pid, 101);
  EXPECT_EQ(rows[0].fd, 3);
  EXPECT_EQ(rows[0].timer, ConnTimer::kOff);

  const ConnRow& e = rows[1];
  EXPECT_EQ(e.state, TCP_ESTABLISHED);
  EXPECT_EQ(e.laddr, kIpB);
  EXPECT_EQ(e.lport, 80);
  EXPECT_EQ(e.raddr, kIpA);
  EXPECT_EQ(e.rport, rte_be_to_cpu_16(c->c.sport));
  EXPECT_EQ(e.recv_q, 0u);
  EXPECT_EQ(e.send_q, 0u);
  EXPECT_EQ(e.pid, 101);
  EXPECT_EQ(e.fd, 4);
  EXPECT_FALSE(e.orphan);
  EXPECT_EQ(e.core, 0u);
  EXPECT_EQ(ConnRowStateName(e), "ESTAB");

  const std::string line = FormatConnRow(e, "proxy");
  EXPECT_EQ(line.substr(0, 10), "ESTAB     ");
  EXPECT_NE(line.find("10.0.0.2:80"), std::string::npos);
  EXPECT_NE(line.find("users:((\"proxy\",pid=101,fd=4))"), std::string::npos);
  EXPECT_EQ(FormatConnUsers(e), "users:((pid=101,fd=4))");
  EXPECT_EQ(FormatConnHeader().substr(0, 24), "State      Recv-Q Send-Q");

  // The client side: no owner function, no owner.
  auto arows = DumpAll(t.a());
  ASSERT_EQ(arows.size(), 1u);
  EXPECT_EQ(arows[0].state, TCP_ESTABLISHED);
  EXPECT_EQ(arows[0].pid, 0);
  EXPECT_EQ(arows[0].fd, -1);
  EXPECT_EQ(FormatConnUsers(arows[0]), "");
}

TEST(ConnDump, AcceptQueueAndQueues) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 8080), 0);
  ASSERT_EQ(TcpListen(l, 5), 0);
  Tcb* c1 = TcpSocket(t.a());
  Tcb* c2 = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c1, kIpB, 8080), -EINPROGRESS);
  ASSERT_EQ(TcpConnect(c2, kIpB, 8080), -EINPROGRESS);
  t.Run(20 * kMs);
  // Two children wait in the accept queue: Recv-Q 2, Send-Q the backlog.
  ConnFilter lf;
  lf.states = kSsListeningStates;
  auto rows = DumpAll(t.b(), lf);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].recv_q, 2u);
  EXPECT_EQ(rows[0].send_q, 5u);

  // Unread bytes and unacknowledged bytes.
  const char data[300] = {};
  ASSERT_EQ(TcpSend(c1, data, 100), 100);
  ASSERT_EQ(TcpSend(c2, data, 300), 300);
  t.Settle();  // sent, not yet acknowledged (1 ms one way)
  auto arows = DumpAll(t.a());
  ASSERT_EQ(arows.size(), 2u);
  uint32_t sq = 0;
  for (const auto& r : arows) {
    sq += r.send_q;
    EXPECT_EQ(r.timer, ConnTimer::kOn);
    EXPECT_EQ(r.retrans, 0u);
  }
  EXPECT_EQ(sq, 400u);
  t.Run(20 * kMs);
  ConnFilter ef;
  ef.states = TCPF_ESTABLISHED;
  uint32_t rq = 0;
  for (const auto& r : DumpAll(t.b(), ef)) rq += r.recv_q;
  EXPECT_EQ(rq, 400u);
  for (const auto& r : DumpAll(t.a())) {
    EXPECT_EQ(r.send_q, 0u);
    EXPECT_EQ(r.timer, ConnTimer::kOff);
  }
}

TEST(ConnDump, RetransmitTimerAsSsPrintsIt) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  DropTcp(t, WireDir::kAtoB);
  const char data[10] = {};
  ASSERT_EQ(TcpSend(c, data, sizeof(data)), 10);
  t.Settle();
  auto rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].timer, ConnTimer::kOn);
  EXPECT_GE(rows[0].timer_ms, 200u);  // RTO floor
  EXPECT_LT(rows[0].timer_ms, 1000u);
  EXPECT_EQ(rows[0].retrans, 0u);
  EXPECT_EQ(FormatConnTimer(rows[0]), "timer:(on," + FormatMsTimer(rows[0].timer_ms) + ",0)");
  // After the first retransmission: retrans 1, the timer re-armed (backoff).
  t.Run(rows[0].timer_ms * kMs + kMs);
  rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].timer, ConnTimer::kOn);
  EXPECT_EQ(rows[0].retrans, 1u);
  EXPECT_GE(rows[0].timer_ms, 380u);
}

TEST(ConnDump, KeepaliveTimer) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  int on = 1;
  ASSERT_EQ(TcpSetsockopt(c, kSolSocket, kSoKeepalive, &on, sizeof(on)), 0);
  t.Run(5 * kSec);
  auto rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].timer, ConnTimer::kKeepalive);
  // 7200 s idle time, about 5 s of it gone.
  EXPECT_LE(rows[0].timer_ms, 7200u * 1000);
  EXPECT_GE(rows[0].timer_ms, 7190u * 1000);
  EXPECT_EQ(FormatConnTimer(rows[0]), "timer:(keepalive,119min,0)");
}

TEST(ConnDump, TimeWaitMiniSocketsAndOrphans) {
  TwoStacks t;
  auto [c, s] = t.Connect(80);
  ASSERT_EQ(TcpClose(c), 0);  // A: FIN_WAIT1 orphan
  t.Settle();
  auto rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, TCP_FIN_WAIT1);
  EXPECT_TRUE(rows[0].orphan);
  EXPECT_EQ(rows[0].send_q, 1u);  // the FIN
  EXPECT_EQ(rows[0].timer, ConnTimer::kOn);

  t.Run(10 * kMs);  // B acks: A becomes a FIN_WAIT2 mini-socket
  rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, TCP_FIN_WAIT2);
  EXPECT_TRUE(rows[0].timewait_sock);
  EXPECT_EQ(rows[0].timer, ConnTimer::kTimeWait);
  // Filters see a mini-socket as TIME_WAIT whatever its substate (inet_diag).
  ConnFilter fw2;
  fw2.states = TCPF_FIN_WAIT2;
  EXPECT_TRUE(DumpAll(t.a(), fw2).empty());
  ConnFilter tw;
  tw.states = TCPF_TIME_WAIT;
  EXPECT_EQ(DumpAll(t.a(), tw).size(), 1u);

  ASSERT_EQ(TcpClose(s), 0);  // B: LAST_ACK; A: TIME_WAIT
  t.Run(10 * kMs);
  rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, TCP_TIME_WAIT);
  EXPECT_EQ(rows[0].recv_q, 0u);
  EXPECT_EQ(rows[0].send_q, 0u);
  EXPECT_EQ(rows[0].pid, 0);
  EXPECT_EQ(rows[0].fd, -1);
  EXPECT_EQ(rows[0].timer, ConnTimer::kTimeWait);
  EXPECT_GE(rows[0].timer_ms, 59'900u);
  EXPECT_LE(rows[0].timer_ms, 60'000u);
  t.Run(17 * kSec);
  rows = DumpAll(t.a());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(FormatConnTimer(rows[0]), "timer:(timewait," + FormatMsTimer(rows[0].timer_ms) + ",0)");
  EXPECT_EQ(FormatMsTimer(rows[0].timer_ms), "42sec");
  EXPECT_EQ(ConnRowStateName(rows[0]), "TIME-WAIT");
  t.Run(61 * kSec);
  EXPECT_TRUE(DumpAll(t.a()).empty());
}

TEST(ConnDump, SynRecvChildrenAndSynSent) {
  TwoStacks t;
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 80), 0);
  ASSERT_EQ(TcpListen(l, 16), 0);
  DropTcp(t, WireDir::kBtoA);  // the SYN-ACK never arrives
  Tcb* c = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
  t.Run(5 * kMs);
  auto b = DumpAll(t.b());
  ASSERT_EQ(b.size(), 2u);
  const ConnRow* sr = Find(b, TCP_SYN_RECV);
  ASSERT_NE(sr, nullptr);
  EXPECT_EQ(sr->recv_q, 0u);  // a request socket: 0 / 0
  EXPECT_EQ(sr->send_q, 0u);
  EXPECT_EQ(sr->timer, ConnTimer::kOn);
  EXPECT_EQ(ConnRowStateName(*sr), "SYN-RECV");
  auto a = DumpAll(t.a());
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].state, TCP_SYN_SENT);
  EXPECT_EQ(a[0].timer, ConnTimer::kOn);
  // The listener's accept queue is still empty.
  EXPECT_EQ(Find(b, TCP_LISTEN)->recv_q, 0u);
  // ss's default states hide SYN-RECV and LISTEN; "bucket" shows SYN-RECV.
  ConnFilter def;
  def.states = kSsDefaultStates;
  EXPECT_TRUE(DumpAll(t.b(), def).empty());
  auto bucket = ParseConnFilter({"state", "bucket"});
  ASSERT_TRUE(bucket.ok());
  EXPECT_EQ(DumpAll(t.b(), *bucket).size(), 1u);
  // After a SYN-ACK retransmission the child shows retrans 1.
  t.Run(1100 * kMs);
  b = DumpAll(t.b());
  sr = Find(b, TCP_SYN_RECV);
  ASSERT_NE(sr, nullptr);
  EXPECT_EQ(sr->retrans, 1u);
}

TEST(ConnFilterParse, StatesAndGroups) {
  uint32_t s = 0;
  ASSERT_TRUE(SsStateSet("established", &s));
  EXPECT_EQ(s, TCPF_ESTABLISHED);
  ASSERT_TRUE(SsStateSet("TIME-WAIT", &s));
  EXPECT_EQ(s, TCPF_TIME_WAIT);
  ASSERT_TRUE(SsStateSet("listening", &s));
  EXPECT_EQ(s, TCPF_LISTEN);
  ASSERT_TRUE(SsStateSet("closed", &s));
  EXPECT_EQ(s, TCPF_CLOSE);
  ASSERT_TRUE(SsStateSet("syn-rcv", &s));
  EXPECT_EQ(s, TCPF_SYN_RECV);
  ASSERT_TRUE(SsStateSet("connected", &s));
  EXPECT_EQ(s, kSsAllStates & ~(TCPF_LISTEN | TCPF_CLOSE));
  ASSERT_TRUE(SsStateSet("synchronized", &s));
  EXPECT_EQ(s, kSsAllStates & ~(TCPF_LISTEN | TCPF_CLOSE | TCPF_SYN_SENT));
  ASSERT_TRUE(SsStateSet("big", &s));
  EXPECT_EQ(s, kSsAllStates & ~(TCPF_SYN_RECV | TCPF_TIME_WAIT));
  ASSERT_TRUE(SsStateSet("all", &s));
  EXPECT_EQ(s, kSsAllStates);
  EXPECT_FALSE(SsStateSet("estab", &s));

  auto f = ParseConnFilter({"state", "established", "state", "close-wait"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->states, TCPF_ESTABLISHED | TCPF_CLOSE_WAIT);
  f = ParseConnFilter({}, kSsDefaultStates);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->states, kSsDefaultStates);
  f = ParseConnFilter({"state", "all", "exclude", "listening"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->states, kSsAllStates & ~TCPF_LISTEN);
}

TEST(ConnFilterParse, AddressesPortsPid) {
  auto f = ParseConnFilter({"state", "established", "dport", "80", "pid", "101", "src", "10.0.0.1"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->pid, 101);
  ASSERT_EQ(f->ports.size(), 1u);
  EXPECT_FALSE(f->ports[0].local);
  EXPECT_EQ(f->ports[0].port, 80);
  EXPECT_EQ(f->ports[0].op, PortOp::kEq);
  ASSERT_EQ(f->addrs.size(), 1u);
  EXPECT_TRUE(f->addrs[0].local);
  EXPECT_EQ(f->addrs[0].addr, kIpA);
  EXPECT_EQ(f->addrs[0].prefix_len, 32);
  EXPECT_FALSE(f->addrs[0].has_port);

  ConnRow r;
  r.state = TCP_ESTABLISHED;
  r.laddr = kIpA;
  r.lport = 40000;
  r.raddr = kIpB;
  r.rport = 80;
  r.pid = 101;
  EXPECT_TRUE(f->Matches(r));
  r.pid = 102;
  EXPECT_FALSE(f->Matches(r));
  r.pid = 101;
  r.rport = 81;
  EXPECT_FALSE(f->Matches(r));
  r.rport = 80;
  r.state = TCP_CLOSE_WAIT;
  EXPECT_FALSE(f->Matches(r));
  r.state = TCP_ESTABLISHED;

  f = ParseConnFilter({"sport", "=", ":8080"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->ports[0].local);
  EXPECT_EQ(f->ports[0].port, 8080);
  f = ParseConnFilter({"dst", "10.0.0.2:80"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(r));
  f = ParseConnFilter({"dst", "10.0.0.0/24", "and", "sport", ">", "1024"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(r));
  r.lport = 1000;
  EXPECT_FALSE(f->Matches(r));
  f = ParseConnFilter({"dst", "*:80"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->Matches(r));
  f = ParseConnFilter({"dst", ":443"});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Matches(r));
  f = ParseConnFilter({"dport", "!=", "80"});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Matches(r));
  f = ParseConnFilter({"core", "1"});
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->Matches(r));
  r.core = 1;
  EXPECT_TRUE(f->Matches(r));
}

TEST(ConnFilterParse, ClearErrors) {
  struct Case {
    std::vector<std::string> words;
    std::string needle;
  };
  const Case cases[] = {
      {{"state", "estab"}, "wrong state name: \"estab\""},
      {{"state"}, "needs a state name"},
      {{"dport", "http"}, "bad port \"http\""},
      {{"dport", "70000"}, "bad port \"70000\""},
      {{"sport", "="}, "needs a port"},
      {{"src", "10.0.0.300"}, "bad address \"10.0.0.300\""},
      {{"pid", "x"}, "bad pid \"x\""},
      {{"pid", "0"}, "bad pid \"0\""},
      {{"frobnicate"}, "unknown filter word \"frobnicate\""},
      {{"dport", "80", "or", "dport", "443"}, "not supported"},
  };
  for (const auto& c : cases) {
    auto f = ParseConnFilter(c.words);
    ASSERT_FALSE(f.ok()) << c.needle;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.needle), std::string::npos) << f.status().message();
  }
}

TEST(ConnDumpFormat, MsTimer) {
  EXPECT_EQ(FormatMsTimer(43'000), "43sec");
  EXPECT_EQ(FormatMsTimer(200), "200ms");
  EXPECT_EQ(FormatMsTimer(7'140'000), "119min");
  EXPECT_EQ(FormatMsTimer(7'199'999), "119min");
  EXPECT_EQ(FormatMsTimer(61'000), "1min1sec");
  EXPECT_EQ(FormatMsTimer(9'501), "9.501sec");
  EXPECT_EQ(FormatMsTimer(12'345), "12sec");
  EXPECT_EQ(FormatMsTimer(0), "");
  ConnRow r;
  r.timer = ConnTimer::kTimeWait;
  r.timer_ms = 43'000;
  EXPECT_EQ(FormatConnTimer(r), "timer:(timewait,43sec,0)");
  r.timer = ConnTimer::kOn;
  r.timer_ms = 200;
  r.retrans = 1;
  EXPECT_EQ(FormatConnTimer(r), "timer:(on,200ms,1)");
  r.timer = ConnTimer::kOff;
  EXPECT_EQ(FormatConnTimer(r), "");
}

// Many connections through small chunks: every socket exactly once, each
// chunk bounded; the cursor survives sockets going away between chunks.
TEST(ConnDump, ChunkedDumpIsCompleteAndBounded) {
  TcpStackConfig cfg = TwoStacks::DefaultTcp();
  cfg.ehash_buckets = 64;  // long chains: positions inside buckets matter
  TwoStacks t(cfg);
  Tcb* l = TcpSocket(t.b());
  ASSERT_EQ(TcpBind(l, 0, 80), 0);
  ASSERT_EQ(TcpListen(l, 1024), 0);
  constexpr int kConns = 300;
  std::vector<Tcb*> clients;
  for (int i = 0; i < kConns; ++i) {
    Tcb* c = TcpSocket(t.a());
    ASSERT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
    clients.push_back(c);
    if (i == 0) t.Run(5 * kMs);  // ARP first (at most 101 packets wait for it, as in Linux)
  }
  t.Run(50 * kMs);
  std::vector<Tcb*> children;
  for (Tcb* ch = nullptr; TcpAccept(l, &ch) == 0;) children.push_back(ch);
  ASSERT_EQ(children.size(), static_cast<size_t>(kConns));

  ConnDumper d(t.b(), {});
  d.set_visit_budget(50);
  std::vector<ConnRow> rows;
  std::set<std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>> seen;
  int calls = 0;
  bool more = true;
  while (more) {
    const size_t before = rows.size();
    more = d.Next(&rows, 7);
    ASSERT_LE(rows.size() - before, 7u);
    ++calls;
  }
  EXPECT_EQ(rows.size(), static_cast<size_t>(kConns + 1));
  for (const auto& r : rows) seen.insert({r.laddr, r.lport, r.raddr, r.rport});
  EXPECT_EQ(seen.size(), rows.size());
  EXPECT_GT(calls, kConns / 7);
  EXPECT_FALSE(d.Next(&rows, 7));  // finished stays finished
  EXPECT_EQ(rows.size(), static_cast<size_t>(kConns + 1));

  // A filter that matches nothing still yields: bounded visits per call.
  ConnFilter none;
  none.states = TCPF_CLOSING;
  ConnDumper d2(t.b(), none);
  d2.set_visit_budget(40);
  std::vector<ConnRow> empty;
  int idle_calls = 0;
  while (d2.Next(&empty, 100)) ++idle_calls;
  EXPECT_TRUE(empty.empty());
  EXPECT_GT(idle_calls, (kConns + 64) / 40 - 1);

  // Sockets closed and opened between chunks: no crash, each live socket
  // at most once, those untouched exactly once.
  ConnDumper d3(t.b(), {});
  d3.set_visit_budget(30);
  std::vector<ConnRow> rows3;
  ASSERT_TRUE(d3.Next(&rows3, 10));
  for (int i = 0; i < 100; ++i) TcpClose(children[static_cast<size_t>(i)]);
  t.Settle();
  for (int i = 0; i < 20; ++i) {
    Tcb* c = TcpSocket(t.a());
    ASSERT_EQ(TcpConnect(c, kIpB, 80), -EINPROGRESS);
  }
  t.Run(50 * kMs);
  while (d3.Next(&rows3, 10)) {
  }
  std::map<std::tuple<uint32_t, uint16_t, uint32_t, uint16_t>, int> count;
  for (const auto& r : rows3) ++count[{r.laddr, r.lport, r.raddr, r.rport}];
  for (size_t i = 100; i < children.size(); ++i) {
    const Tcb* ch = children[i];
    const auto key = std::make_tuple(ch->c.saddr, rte_be_to_cpu_16(ch->c.sport), ch->c.daddr,
                                     rte_be_to_cpu_16(ch->c.dport));
    EXPECT_EQ(count[key], 1);
  }
}

TEST(ConnSummary, CountsAndSumsAcrossCores) {
  TwoStacks t;
  auto [c1, s1] = t.Connect(80);
  Tcb* c2 = TcpSocket(t.a());
  ASSERT_EQ(TcpConnect(c2, kIpB, 80), -EINPROGRESS);
  t.Run(20 * kMs);
  Tcb* s2 = nullptr;
  ASSERT_EQ(TcpAccept(t.listener(), &s2), 0);
  ASSERT_EQ(TcpClose(c1), 0);  // A: FIN_WAIT2 mini-socket, B: CLOSE_WAIT
  t.Run(20 * kMs);

  ConnSummary a = SummarizeConns(t.a());
  EXPECT_EQ(a.by_state[TCP_ESTABLISHED], 1);
  EXPECT_EQ(a.by_state[TCP_FIN_WAIT2], 1);
  EXPECT_EQ(a.timewait, 1);
  EXPECT_EQ(a.estab, 1);
  EXPECT_EQ(a.hashed, 1);
  EXPECT_EQ(a.alloc, 1);
  EXPECT_EQ(a.orphaned, 0);
  EXPECT_EQ(a.total(), 2);
  EXPECT_EQ(a.closed(), 1);  // ss -s: alloc - (inuse - tw)

  ConnSummary b = SummarizeConns(t.b());
  EXPECT_EQ(b.listen, 1);
  EXPECT_EQ(b.by_state[TCP_CLOSE_WAIT], 1);
  EXPECT_EQ(b.by_state[TCP_ESTABLISHED], 1);
  EXPECT_EQ(b.estab, 2);  // CurrEstab counts CLOSE_WAIT
  EXPECT_EQ(b.hashed, 3);
  EXPECT_EQ(b.alloc, 3);
  EXPECT_EQ(b.estab, t.mib_b().Get(Mib::Tcp_CurrEstab));

  ASSERT_EQ(TcpClose(s1), 0);  // B: LAST_ACK orphan until A's ACK
  t.Settle();
  b = SummarizeConns(t.b());
  EXPECT_EQ(b.orphaned, 1);
  EXPECT_EQ(b.by_state[TCP_LAST_ACK], 1);

  ConnSummary sum = a;
  sum += b;
  EXPECT_EQ(sum.hashed, a.hashed + b.hashed);
  EXPECT_EQ(sum.by_state[TCP_ESTABLISHED], 2);
  EXPECT_EQ(sum.listen, 1);
  const std::string text = FormatConnSummary(sum);
  EXPECT_EQ(text.substr(0, text.find('\n')),
            absl::StrFormat("TCP:   %d (estab %d, closed %d, orphaned %d, timewait %d)",
                            sum.total(), sum.estab, sum.closed(), sum.orphaned, sum.timewait));

  // Resumable: small steps give the same answer.
  ConnSummarizer step(t.b());
  int steps = 0;
  while (step.Step(8)) ++steps;
  EXPECT_GT(steps, 10);
  EXPECT_EQ(step.summary().hashed, b.hashed);
  EXPECT_EQ(step.summary().by_state[TCP_LAST_ACK], 1);
}

}  // namespace
}  // namespace dpx::tcp::testing
