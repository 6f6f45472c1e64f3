// The proxy session engine on the in-memory wire in virtual time: clients
// and backends are real sockets on stack B, the proxy runs on stack A in a
// worker process. Each test ends with the engine empty and the TCB pools,
// files and mbuf pool back where they started.
#include "proxy/engine.h"

#include <cerrno>
#include <map>

#include <gtest/gtest.h>

#include "net/port_profile.h"
#include "proxy/rss_port.h"
#include "proxy_harness.h"
#include "tcp/tcp_abort.h"

namespace dpx::proxy::testing {
namespace {

constexpr uint16_t kFront = 80;
constexpr uint16_t kBack1 = 8080;
constexpr uint16_t kBack2 = 8081;
constexpr uint16_t kRefused = 9;   // nothing listens there
constexpr uint16_t kBlackHole = 9999;  // SYNs to it are dropped on the wire

std::string Pattern(size_t n, char base = 'a') {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(base + i % 26);
  return s;
}

class EngineTest : public ::testing::Test, public ProxyHarness {
 protected:
  explicit EngineTest(EngineConfig cfg = {}) : ProxyHarness(cfg) {}

  // A frontend on A:80 over `backends`, round robin unless `pick` is given.
  int AddFrontend(std::vector<Endpoint> backends, FrontendSpec base = {}) {
    base.name = "web";
    base.listen = A(kFront);
    base.backends = std::move(backends);
    base.on_session_start = [this](int b) { ++starts_[b]; };
    base.on_session_end = [this](int b) { ++ends_[b]; };
    auto id = engine_->AddFrontend(std::move(base));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : -1;
  }
  const ProxyCounters& Fe(int id = 0) { return *engine_->frontend_counters(id); }
  const ProxyCounters& Be(size_t b, int id = 0) { return *engine_->backend_counters(id, b); }
  // Drops every SYN A -> B to `port`.
  void BlackHole(uint16_t port) {
    WireRule r;
    r.dir = WireDir::kAtoB;
    r.action = WireAction::kDrop;
    r.times = 1000000;
    r.match = [port](const rte_mbuf* m, uint64_t) {
      const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
      if (rte_pktmbuf_data_len(m) < 14 + 20 + 20 || p[23] != 6) return false;
      const uint8_t* th = p + 14 + (p[14] & 0xf) * 4;
      const uint16_t dport = static_cast<uint16_t>(th[2] << 8 | th[3]);
      return dport == port && (th[13] & 0x02);
    };
    two_.wire().AddRule(r);
  }
  void ExpectHooksBalanced() {
    for (auto& [b, n] : starts_) EXPECT_EQ(n, ends_[b]) << "backend " << b;
  }

  std::map<int, int> starts_, ends_;
};

// ------------------------------------------------------------------ basics

TEST_F(EngineTest, ManySmallRequestResponseSessions) {
  Server& s1 = AddServer(kBack1);
  Server& s2 = AddServer(kBack2);
  const int fe = AddFrontend({B(kBack1), B(kBack2)});
  EXPECT_TRUE(engine_->listening(fe));
  const auto base = Snapshot();
  constexpr int kRounds = 10, kParallel = 20;
  int n = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Peer*> cs;
    for (int i = 0; i < kParallel; ++i, ++n) {
      Peer& c = Dial(kFront);
      c.out = "request " + std::to_string(n) + " " + Pattern(static_cast<size_t>(n % 7) * 100);
      c.shut_when_sent = true;
      cs.push_back(&c);
    }
    ASSERT_TRUE(RunUntil([&] {
      for (Peer* c : cs)
        if (!c->eof) return false;
      return true;
    }));
    for (Peer* c : cs) {
      EXPECT_EQ(c->err, 0);
      EXPECT_EQ(c->in, c->out);  // echoed through the proxy, then the FIN
      c->Close();
    }
  }
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 0; }));
  EXPECT_EQ(Fe().sessions, static_cast<uint64_t>(n));
  EXPECT_EQ(Fe().active, 0u);
  EXPECT_EQ(Be(0).sessions + Be(1).sessions, static_cast<uint64_t>(n));
  EXPECT_EQ(Be(0).sessions, static_cast<uint64_t>(n / 2));  // round robin
  EXPECT_EQ(s1.conns.size() + s2.conns.size(), static_cast<size_t>(n));
  EXPECT_EQ(Fe().bytes_in, Fe().bytes_out);
  EXPECT_EQ(Fe().bytes_in, Be(0).bytes_out + Be(1).bytes_out);
  EXPECT_EQ(Fe().resets_sent + Fe().resets_received + Be(0).resets_sent + Be(1).resets_received, 0u);
  EXPECT_EQ(engine_->stats().sessions_ended, static_cast<uint64_t>(n));
  EXPECT_EQ(starts_[0], n / 2);
  ExpectHooksBalanced();
  ExpectBackToBaseline(base);
}

// 20 MB each way at once, every byte compared.
TEST_F(EngineTest, TwentyMegabytesEachWay) {
  two_.wire().set_capture(false);
  constexpr uint64_t kBytes = 20ull << 20;
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  srv.on_accept = [](Peer& p) {
    p.keep_in = false;
    p.verify_gen = true;
    p.expect_seed = 1;
    p.gen_total = kBytes;
    p.gen_seed = 2;
    p.shut_when_sent = true;
  };
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.keep_in = false;
  c.verify_gen = true;
  c.expect_seed = 2;
  c.gen_total = kBytes;
  c.gen_seed = 1;
  c.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return c.eof && !srv.conns.empty() && srv.conns[0]->eof; },
                       60'000'000'000ull));
  Peer& b = *srv.conns[0];
  EXPECT_EQ(c.in_bytes, kBytes);
  EXPECT_EQ(c.first_bad, UINT64_MAX);
  EXPECT_EQ(b.in_bytes, kBytes);
  EXPECT_EQ(b.first_bad, UINT64_MAX);
  EXPECT_EQ(c.err, 0);
  EXPECT_EQ(b.err, 0);
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 0; }));
  EXPECT_EQ(Fe().bytes_in, kBytes);
  EXPECT_EQ(Fe().bytes_out, kBytes);
  EXPECT_EQ(Be(0).bytes_in, kBytes);
  EXPECT_EQ(Be(0).bytes_out, kBytes);
  // Every segment moved as the mbuf it arrived in (same MSS both sides).
  EXPECT_GE(engine_->stats().splice_segments, 2 * kBytes / 1448);
  EXPECT_EQ(engine_->stats().splice_copies, 0u);
  ExpectBackToBaseline(base);
}

// The client shuts its write side and still reads the whole response.
TEST_F(EngineTest, HalfCloseClientStillReadsTheResponse) {
  constexpr uint64_t kResponse = 3u << 20;
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  srv.on_accept = [](Peer& p) {
    p.on_poll = [](Peer& q) {
      // Read the whole request (to its FIN), then answer and close.
      if (q.eof && q.gen_total == 0) {
        q.gen_total = kResponse;
        q.gen_seed = 7;
        q.close_when_sent = true;
      }
    };
  };
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = Pattern(5000);
  c.shut_when_sent = true;
  c.keep_in = false;
  c.verify_gen = true;
  c.expect_seed = 7;
  ASSERT_TRUE(RunUntil([&] { return c.eof || c.err; }, 30'000'000'000ull));
  EXPECT_EQ(c.err, 0);
  EXPECT_EQ(c.in_bytes, kResponse);
  EXPECT_EQ(c.first_bad, UINT64_MAX);
  ASSERT_EQ(srv.conns.size(), 1u);
  EXPECT_EQ(srv.conns[0]->in, c.out);
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 0; }));
  EXPECT_EQ(Fe().resets_sent + Be(0).resets_sent, 0u);
  ExpectBackToBaseline(base);
}

// A request and its FIN in one segment leave the proxy as one segment too:
// the FIN rides on the last data segment ("FP.").
TEST_F(EngineTest, FinRidesOnTheLastDataSegment) {
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  ASSERT_TRUE(RunUntil([&] { return srv.conns.size() == 1; }));
  RunFor(10'000'000);
  FromProxy();
  // The client corks, writes 100 bytes and shuts down: "FP. 1:101(100)".
  const int one = 1;
  ASSERT_EQ(tcp::TcpSetsockopt(c.sk, tcp::kIpprotoTcp, tcp::kTcpCork, &one, sizeof(one)), 0);
  ASSERT_EQ(tcp::TcpSend(c.sk, Pattern(100).data(), 100), 100);
  ASSERT_EQ(tcp::TcpShutdown(c.sk, tcp::kShutWr), 0);
  c.shut_done = true;
  RunFor(10'000'000);
  std::vector<WireSeg> to_backend;
  for (const WireSeg& s : FromProxy())
    if (s.dport == kBack1 && (s.len > 0 || (s.flags & RTE_TCP_FIN_FLAG))) to_backend.push_back(s);
  ASSERT_EQ(to_backend.size(), 1u);
  EXPECT_EQ(to_backend[0].len, 100u);
  EXPECT_TRUE(to_backend[0].flags & RTE_TCP_FIN_FLAG) << to_backend[0].Flags();
  EXPECT_TRUE(to_backend[0].flags & RTE_TCP_PSH_FLAG) << to_backend[0].Flags();
  ASSERT_TRUE(RunUntil([&] { return srv.conns[0]->eof; }));
  EXPECT_EQ(srv.conns[0]->in, Pattern(100));
  srv.conns[0]->Close();
  ASSERT_TRUE(RunUntil([&] { return c.eof; }));
  ExpectBackToBaseline(base);
}

// The backend does not read: the proxy's data to it waits behind a closed
// window; the client's FIN then goes on the last of that unsent data.
TEST_F(EngineTest, FinRidesOnDataHeldByTheBackendWindow) {
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  srv.on_accept = [](Peer& p) { p.reading = false; };
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = Pattern(100000);
  c.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return c.all_sent() && c.shut_done; }));
  RunFor(200'000'000);  // the proxy reads the client's FIN; the backend's window is shut
  ASSERT_EQ(srv.conns.size(), 1u);
  auto sessions = engine_->Sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_GT(SendQueueBytes(sessions[0].server), 0u);
  FromProxy();
  srv.conns[0]->reading = true;
  ASSERT_TRUE(RunUntil([&] { return srv.conns[0]->eof; }));
  EXPECT_EQ(srv.conns[0]->in, c.out);
  int fins = 0;
  for (const WireSeg& s : FromProxy()) {
    if (s.dport != kBack1 || !(s.flags & RTE_TCP_FIN_FLAG)) continue;
    ++fins;
    EXPECT_GT(s.len, 0u) << "the FIN went alone: " << s.Flags();
  }
  EXPECT_EQ(fins, 1);
  srv.conns[0]->Close();
  ASSERT_TRUE(RunUntil([&] { return c.eof; }));
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, BackendClosesFirst) {
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  srv.on_accept = [](Peer& p) {
    p.out = "220 hello, bye\r\n";
    p.close_when_sent = true;
  };
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  ASSERT_TRUE(RunUntil([&] { return c.eof || c.err; }));
  EXPECT_EQ(c.err, 0);
  EXPECT_EQ(c.in, "220 hello, bye\r\n");
  // The session waits for the client's FIN (the other direction).
  EXPECT_EQ(engine_->live_sessions(), 1u);
  c.Close();
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 0; }));
  EXPECT_EQ(Fe().resets_sent + Fe().resets_received + Be(0).resets_sent + Be(0).resets_received, 0u);
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, ClientResetResetsTheBackend) {
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "hello";
  ASSERT_TRUE(RunUntil([&] { return srv.conns.size() == 1 && srv.conns[0]->in == "hello"; }));
  FromProxy();
  c.Abort();
  ASSERT_TRUE(RunUntil([&] { return srv.conns[0]->err != 0; }));
  EXPECT_EQ(srv.conns[0]->err, ECONNRESET);
  int rsts = 0;
  for (const WireSeg& s : FromProxy())
    if (s.dport == kBack1 && (s.flags & RTE_TCP_RST_FLAG)) ++rsts;
  EXPECT_EQ(rsts, 1);
  EXPECT_EQ(Fe().resets_received, 1u);
  EXPECT_EQ(Be(0).resets_sent, 1u);
  EXPECT_EQ(engine_->live_sessions(), 0u);
  ExpectHooksBalanced();
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, BackendResetResetsTheClient) {
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "hello";
  ASSERT_TRUE(RunUntil([&] { return srv.conns.size() == 1 && srv.conns[0]->in == "hello"; }));
  srv.conns[0]->Abort();
  ASSERT_TRUE(RunUntil([&] { return c.err != 0; }));
  EXPECT_EQ(c.err, ECONNRESET);
  EXPECT_EQ(Be(0).resets_received, 1u);
  EXPECT_EQ(Fe().resets_sent, 1u);
  EXPECT_EQ(engine_->live_sessions(), 0u);
  ExpectBackToBaseline(base);
}

// ------------------------------------------------------- connect failures

TEST_F(EngineTest, BackendRefusedResetsTheClient) {
  FrontendSpec spec;
  spec.connect_retries = 1;
  spec.on_backend_failure = BackendFailureAction::kReset;
  AddFrontend({B(kRefused)}, spec);
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "GET /";
  ASSERT_TRUE(RunUntil([&] { return c.err != 0 || c.eof; }));
  EXPECT_EQ(c.err, ECONNRESET);
  EXPECT_EQ(Fe().connect_failures, 2u);  // the first try and one retry
  EXPECT_EQ(Be(0).connect_attempts, 2u);
  EXPECT_EQ(Be(0).connect_failures, 2u);
  EXPECT_EQ(Be(0).sessions, 0u);
  EXPECT_EQ(Fe().no_backend, 1u);
  EXPECT_EQ(Fe().resets_sent, 1u);
  EXPECT_EQ(starts_[0], 2);
  ExpectHooksBalanced();
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, BackendRefusedClosesTheClientWhenConfigured) {
  FrontendSpec spec;
  spec.connect_retries = 0;
  spec.on_backend_failure = BackendFailureAction::kClose;
  AddFrontend({B(kRefused)}, spec);
  const auto base = Snapshot();
  // Nothing sent: close() gives a FIN.
  Peer& quiet = Dial(kFront);
  ASSERT_TRUE(RunUntil([&] { return quiet.err != 0 || quiet.eof; }));
  EXPECT_TRUE(quiet.eof);
  EXPECT_EQ(quiet.err, 0);
  // Data the proxy never read: close() resets, as Linux's does.
  Peer& talker = Dial(kFront);
  talker.out = "GET /";
  ASSERT_TRUE(RunUntil([&] { return talker.err != 0 || talker.eof; }));
  EXPECT_EQ(talker.err, ECONNRESET);
  EXPECT_EQ(Fe().no_backend, 2u);
  EXPECT_EQ(Fe().resets_sent, 1u);
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, BlackHoledBackendTimesOutThenTheNextPickServes) {
  BlackHole(kBlackHole);
  Server& srv = AddServer(kBack1);
  FrontendSpec spec;
  spec.connect_timeout_ms = 500;
  spec.connect_retries = 2;
  spec.pick = [](uint32_t, uint16_t) { return 0; };  // always the black hole first
  AddFrontend({B(kBlackHole), B(kBack1)}, spec);
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "ping";
  const uint64_t t0 = two_.clock().NowNs();
  ASSERT_TRUE(RunUntil([&] { return c.in == "ping"; }));
  const uint64_t waited = two_.clock().NowNs() - t0;
  EXPECT_GE(waited, 500'000'000u);
  EXPECT_LT(waited, 700'000'000u);
  EXPECT_EQ(Be(0).connect_timeouts, 1u);
  EXPECT_EQ(Fe().connect_timeouts, 1u);
  EXPECT_EQ(Be(1).sessions, 1u);
  EXPECT_EQ(srv.conns.size(), 1u);
  c.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return c.eof; }));
  ExpectHooksBalanced();
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, BlackHoledBackendTimesOutAndTheClientIsReset) {
  BlackHole(kBlackHole);
  FrontendSpec spec;
  spec.connect_timeout_ms = 300;
  spec.connect_retries = 1;
  AddFrontend({B(kBlackHole)}, spec);
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  const uint64_t t0 = two_.clock().NowNs();
  ASSERT_TRUE(RunUntil([&] { return c.err != 0 || c.eof; }));
  EXPECT_EQ(c.err, ECONNRESET);
  EXPECT_GE(two_.clock().NowNs() - t0, 600'000'000u);
  EXPECT_EQ(Fe().connect_timeouts, 2u);
  EXPECT_EQ(Be(0).connect_timeouts, 2u);
  EXPECT_EQ(Fe().no_backend, 1u);
  ExpectHooksBalanced();
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, ClientGoneWhileConnecting) {
  BlackHole(kBlackHole);
  FrontendSpec spec;
  spec.connect_timeout_ms = 5000;
  AddFrontend({B(kBlackHole)}, spec);
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 1; }));
  RunFor(50'000'000);
  c.Abort();
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 0; }, 1'000'000'000));
  EXPECT_EQ(Fe().resets_received, 1u);
  ExpectHooksBalanced();
  ExpectBackToBaseline(base);
}

// ------------------------------------------------------------ backpressure

// A backend sends 50 MB to a client that reads slowly: the proxy's queue
// toward the client never holds more than the high water plus one segment,
// and its receive queue from the backend stays within its buffer.
TEST_F(EngineTest, SlowReaderKeepsMemoryBounded) {
  two_.wire().set_capture(false);
  constexpr uint64_t kBytes = 50ull << 20;
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  srv.on_accept = [](Peer& p) {
    p.gen_total = kBytes;
    p.gen_seed = 3;
    p.close_when_sent = true;
  };
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.keep_in = false;
  c.verify_gen = true;
  c.expect_seed = 3;
  c.read_budget = 64 * 1024;  // 64 KiB per ms: 64 MB/s; the backend could go faster
  const uint32_t hwm = engine_->config().limits.high_water;
  uint32_t max_queued = 0, max_rmem = 0;
  uint64_t samples = 0, throttled = 0;
  ASSERT_TRUE(RunUntil(
      [&] {
        for (const SessionInfo& s : engine_->Sessions()) {
          if (s.client == nullptr || s.server == nullptr) continue;
          const uint32_t q = SendQueueBytes(s.client) + s.pending_b2c;
          max_queued = std::max(max_queued, q);
          max_rmem = std::max(max_rmem, s.server->rmem_alloc);
          EXPECT_LE(q, hwm + s.client->mss_cache);
          EXPECT_LE(s.server->rmem_alloc, s.server->rcvbuf + 2304u);
          ++samples;
          throttled += s.throttled_b2c ? 1 : 0;
        }
        return c.eof || c.err;
      },
      120'000'000'000ull));
  EXPECT_EQ(c.err, 0);
  EXPECT_EQ(c.in_bytes, kBytes);
  EXPECT_EQ(c.first_bad, UINT64_MAX);
  EXPECT_GT(throttled, 0u);  // the high water did the limiting
  EXPECT_GT(max_queued, hwm / 2);
  EXPECT_GT(samples, 100u);
  std::printf("slow reader: %llu samples, max queued toward the client %u (limit %u), max rmem %u\n",
              static_cast<unsigned long long>(samples), max_queued, hwm, max_rmem);
  ExpectBackToBaseline(base);
}

// ------------------------------------------------------------------ idle

TEST_F(EngineTest, IdleSessionIsClosed) {
  AddServer(kBack1);
  FrontendSpec spec;
  spec.idle_timeout_ms = 2000;
  AddFrontend({B(kBack1)}, spec);
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "x";
  ASSERT_TRUE(RunUntil([&] { return c.in == "x"; }));
  const uint64_t t0 = two_.clock().NowNs();
  ASSERT_TRUE(RunUntil([&] { return c.eof || c.err; }, 5'000'000'000ull));
  EXPECT_EQ(c.err, 0);
  EXPECT_GE(two_.clock().NowNs() - t0, 1'900'000'000u);
  EXPECT_EQ(Fe().idle_timeouts, 1u);
  EXPECT_EQ(Be(0).idle_timeouts, 1u);
  ASSERT_TRUE(RunUntil([&] { return servers_[0]->conns[0]->eof; }));
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, IdleSessionIsResetWhenConfigured) {
  Server& srv = AddServer(kBack1);
  FrontendSpec spec;
  spec.idle_timeout_ms = 1000;
  spec.on_idle = IdleAction::kReset;
  AddFrontend({B(kBack1)}, spec);
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "x";
  ASSERT_TRUE(RunUntil([&] { return c.in == "x"; }));
  // Traffic keeps it alive past the timeout...
  for (int i = 0; i < 3; ++i) {
    RunFor(600'000'000);
    c.out += "y";
  }
  EXPECT_EQ(engine_->live_sessions(), 1u);
  // ... silence does not.
  ASSERT_TRUE(RunUntil([&] { return c.err != 0; }, 3'000'000'000ull));
  EXPECT_EQ(c.err, ECONNRESET);
  ASSERT_TRUE(RunUntil([&] { return srv.conns[0]->err != 0; }));
  EXPECT_EQ(srv.conns[0]->err, ECONNRESET);
  EXPECT_EQ(Fe().resets_sent, 1u);
  EXPECT_EQ(Be(0).resets_sent, 1u);
  ExpectBackToBaseline(base);
}

// --------------------------------------------------------------- workers

// The worker is killed with sessions in every state. Its exit closes each
// socket as Linux's do_exit would: unread data -> RST, otherwise the
// queued data then a FIN. The engine frees the sessions at the reap; a
// restarted worker (new pid) listens again and serves new sessions.
TEST_F(EngineTest, WorkerKilledMidTransferThenRestarted) {
  two_.wire().set_capture(false);
  Server& srv = AddServer(kBack1);
  srv.echo = false;
  // Connection 0: a big download. Connection 1: idle. Connection 2: the
  // backend does not read what the client uploads.
  srv.on_accept = [&srv](Peer& p) {
    const size_t i = srv.conns.size();
    if (i == 0) {
      p.gen_total = 64ull << 20;
      p.gen_seed = 5;
    } else if (i == 2) {
      p.reading = false;
    }
  };
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  const int old_pid = engine_->worker_pid();
  Peer& down = Dial(kFront);
  down.keep_in = false;
  down.verify_gen = true;
  down.expect_seed = 5;
  down.read_budget = 4 * 1024;  // slower than the backend: the proxy throttles it
  ASSERT_TRUE(RunUntil([&] { return srv.conns.size() == 1; }));
  Peer& idle = Dial(kFront);
  idle.out = "hi";
  ASSERT_TRUE(RunUntil([&] { return srv.conns.size() == 2; }));
  Peer& up = Dial(kFront);
  up.gen_total = 8ull << 20;
  up.gen_seed = 6;
  ASSERT_TRUE(RunUntil([&] { return srv.conns.size() == 3; }));
  RunFor(500'000'000);
  ASSERT_EQ(engine_->live_sessions(), 3u);

  // What each peer must see, from the state of the proxy's sockets now.
  struct Expect {
    Peer* peer;
    bool rst;
  };
  std::vector<Expect> expect;
  auto sessions = engine_->Sessions();
  ASSERT_EQ(sessions.size(), 3u);
  for (const SessionInfo& s : sessions) {
    Peer* client = nullptr;
    Peer* backend = nullptr;
    for (auto& p : clients_)
      if (rte_be_to_cpu_16(p->sk->c.sport) == rte_be_to_cpu_16(s.client->c.dport)) client = p.get();
    for (auto& p : srv.conns)
      if (rte_be_to_cpu_16(p->sk->c.dport) == rte_be_to_cpu_16(s.server->c.sport)) backend = p.get();
    ASSERT_NE(client, nullptr);
    ASSERT_NE(backend, nullptr);
    expect.push_back({client, tcp::TcpReadable(s.client) > 0});
    expect.push_back({backend, tcp::TcpReadable(s.server) > 0});
  }
  int want_rsts = 0;
  for (const Expect& e : expect) want_rsts += e.rst ? 1 : 0;
  EXPECT_GE(want_rsts, 2);  // the download's backend side and the upload's client side

  bool reaped = false;
  ASSERT_TRUE(pt_.Exit(*worker_, 0, 9, [&](sock::Process&) { reaped = true; }));
  // Uploads stop; the blocked backend starts reading so it can see the end.
  up.gen_total = up.gen_sent;
  srv.conns[2]->reading = true;
  ASSERT_TRUE(RunUntil([&] { return reaped; }));
  EXPECT_EQ(engine_->live_sessions(), 0u);
  EXPECT_EQ(engine_->stats().sessions_killed, 3u);
  EXPECT_EQ(Fe().killed, 3u);
  EXPECT_EQ(Fe().active, 0u);
  EXPECT_FALSE(engine_->listening(0));
  EXPECT_EQ(worker_->exit_counts().released, 7u);  // the listener and six session sockets
  EXPECT_EQ(worker_->exit_counts().rsts, static_cast<uint64_t>(want_rsts));
  ExpectHooksBalanced();

  ASSERT_TRUE(RunUntil([&] {
    for (const Expect& e : expect)
      if (!e.peer->eof && !e.peer->err) return false;
    return true;
  }, 30'000'000'000ull));
  for (const Expect& e : expect) {
    if (e.rst) {
      EXPECT_EQ(e.peer->err, ECONNRESET);
    } else {
      EXPECT_EQ(e.peer->err, 0);
      EXPECT_TRUE(e.peer->eof);
    }
  }
  EXPECT_EQ(down.first_bad, UINT64_MAX);  // a clean prefix of the stream, then the end
  EXPECT_EQ(srv.conns[1]->in, "hi");

  // A new client now finds nobody listening.
  Peer& early = Dial(kFront);
  ASSERT_TRUE(RunUntil([&] { return early.err != 0; }));
  EXPECT_EQ(early.err, ECONNREFUSED);

  auto pid = engine_->Restart();
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_NE(*pid, old_pid);
  EXPECT_EQ(engine_->worker_pid(), *pid);
  EXPECT_EQ(engine_->worker()->state(), sock::ProcState::kRunning);
  EXPECT_TRUE(engine_->listening(0));
  EXPECT_EQ(engine_->Restart().status().code(), absl::StatusCode::kFailedPrecondition);
  srv.on_accept = nullptr;
  srv.echo = true;  // new connections echo (the accept-time defaults)
  Peer& fresh = Dial(kFront);
  fresh.out = "after restart";
  fresh.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return fresh.eof; }));
  EXPECT_EQ(fresh.in, "after restart");
  EXPECT_EQ(engine_->Sessions().size(), 0u);
  // The new worker holds the listener; the test's baseline had the old one.
  auto now = Snapshot();
  EXPECT_EQ(now.files, base.files);
  ExpectBackToBaseline(base);
}

TEST_F(EngineTest, SupervisorRestartsAKilledWorker) {
  AddServer(kBack1);
  AddFrontend({B(kBack1)});
  const int old_pid = engine_->worker_pid();
  // Turn the supervisor on (as the appliance does) through a new engine.
  engine_.reset();
  EngineConfig cfg;
  cfg.restart_on_exit = true;
  auto w = pt_.Spawn("proxy", 0, 1, 1u << 16);
  ASSERT_TRUE(w.ok());
  worker_ = *w;
  engine_ = std::make_unique<ProxyEngine>(two_.a(), pt_, worker_, cfg);
  ASSERT_TRUE(engine_->AddFrontend([&] {
                FrontendSpec s;
                s.name = "web";
                s.listen = A(kFront);
                s.backends = {B(kBack1)};
                return s;
              }())
                  .ok());
  const auto base = Snapshot();
  Peer& c = Dial(kFront);
  c.out = "one";
  ASSERT_TRUE(RunUntil([&] { return c.in == "one"; }));
  const int pid1 = engine_->worker_pid();
  EXPECT_NE(pid1, old_pid);
  ASSERT_TRUE(pt_.Exit(*worker_, 0, 9));
  ASSERT_TRUE(RunUntil([&] { return c.eof || c.err; }));
  EXPECT_TRUE(c.eof);  // nothing unread on the proxy's side: a FIN
  ASSERT_TRUE(RunUntil([&] { return engine_->worker_pid() != pid1 && engine_->listening(0); }));
  EXPECT_EQ(engine_->stats().restarts, 1u);
  Peer& d = Dial(kFront);
  d.out = "two";
  d.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return d.eof; }));
  EXPECT_EQ(d.in, "two");
  ExpectBackToBaseline(base);
}

// Two workers (two engines on the core, as two processes): killing one
// leaves the other's sessions running.
TEST_F(EngineTest, OtherWorkersSessionsCarryOn) {
  two_.wire().set_capture(false);
  Server& srv = AddServer(kBack1);
  AddFrontend({B(kBack1)});
  auto w2 = pt_.Spawn("proxy2", 0, 1, 1u << 16);
  ASSERT_TRUE(w2.ok());
  EngineConfig cfg2;
  cfg2.timer_kind = timer_kind::kAppFirst + 9;
  auto engine2 = std::make_unique<ProxyEngine>(two_.a(), pt_, *w2, cfg2);
  FrontendSpec s2;
  s2.name = "other";
  s2.listen = A(81);
  s2.backends = {B(kBack1)};
  ASSERT_TRUE(engine2->AddFrontend(s2).ok());
  const auto base = Snapshot();
  Peer& a = Dial(kFront);
  a.out = "to worker one";
  Peer& b = Dial(81);
  b.out = "to worker two";
  ASSERT_TRUE(RunUntil([&] { return a.in == a.out && b.in == b.out; }));
  ASSERT_TRUE(pt_.Exit(*worker_, 0, 9));
  ASSERT_TRUE(RunUntil([&] { return a.eof || a.err; }));
  EXPECT_EQ(engine2->live_sessions(), 1u);
  b.out += " and more";
  ASSERT_TRUE(RunUntil([&] { return b.in == b.out; }));
  b.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return b.eof; }));
  EXPECT_EQ(b.err, 0);
  ASSERT_TRUE(RunUntil([&] { return engine2->live_sessions() == 0; }));
  EXPECT_EQ(srv.conns.size(), 2u);
  for (auto& c : clients_) c->Close();
  for (auto& p : srv.conns) p->Close();
  RunFor(2'000'000'000);
  engine2.reset();  // closes its listener
  RunFor(100'000'000);
  const auto now = Snapshot();
  EXPECT_EQ(now.tcbs_a, base.tcbs_a - 2);  // both listeners are gone now
  EXPECT_EQ(now.mbufs_free, base.mbufs_free);
}

// ------------------------------------------------------------ limits

class LimitedEngineTest : public EngineTest {
 protected:
  static EngineConfig Cfg() {
    EngineConfig c;
    c.max_sessions = 2;
    return c;
  }
  LimitedEngineTest() : EngineTest(Cfg()) {}
};

// At max_sessions the engine stops accepting: clients wait in the accept
// queue (as with a process out of fds) and are served when a session ends.
TEST_F(LimitedEngineTest, AcceptWaitsForAFreeSession) {
  AddServer(kBack1);
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& a = Dial(kFront);
  Peer& b = Dial(kFront);
  Peer& c = Dial(kFront);
  a.out = "a";
  b.out = "b";
  c.out = "c";
  ASSERT_TRUE(RunUntil([&] { return a.in == "a" && b.in == "b"; }));
  RunFor(100'000'000);
  EXPECT_EQ(c.in, "");  // connected (the stack accepted it) but not served
  EXPECT_EQ(engine_->live_sessions(), 2u);
  EXPECT_EQ(engine_->stats().accept_stalls, 1u);
  a.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return c.in == "c"; }));
  EXPECT_TRUE(a.eof);
  EXPECT_EQ(Fe().sessions, 3u);
  ExpectBackToBaseline(base);
}

// A listener aborted under the engine (ss -K) is closed; a reload of the
// same frontend opens it again.
TEST_F(EngineTest, AbortedListenerIsReopenedByAReload) {
  AddServer(kBack1);
  FrontendSpec spec;
  const int fe = AddFrontend({B(kBack1)}, spec);
  const auto base = Snapshot();
  ASSERT_EQ(tcp::TcpAbort(two_.a(), kIpA, kFront, 0, 0), 0);
  two_.Settle();
  EXPECT_FALSE(engine_->listening(fe));
  EXPECT_EQ(engine_->stats().listen_errors, 1u);
  spec.name = "web";
  spec.listen = A(kFront);
  spec.backends = {B(kBack1)};
  ASSERT_TRUE(engine_->UpdateFrontend(fe, spec).ok());
  EXPECT_TRUE(engine_->listening(fe));
  Peer& c = Dial(kFront);
  c.out = "back";
  c.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return c.eof; }));
  EXPECT_EQ(c.in, "back");
  ExpectBackToBaseline(base);
}

// ------------------------------------------------------------ RSS ports

class RssEngineTest : public EngineTest {
 protected:
  static EngineConfig Cfg() {
    EngineConfig c;
    c.rss.key = SymmetricRssKey(40);
    c.rss.queues = 4;  // this is core 0 of four
    return c;
  }
  RssEngineTest() : EngineTest(Cfg()) {}
};

TEST_F(RssEngineTest, BackendConnectionsUsePortsThatHashHere) {
  Server& srv = AddServer(kBack1);
  AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  for (int i = 0; i < 40; ++i) {
    Peer& c = Dial(kFront);
    c.out = "x" + std::to_string(i);
    c.shut_when_sent = true;
  }
  ASSERT_TRUE(RunUntil([&] {
    for (auto& c : clients_)
      if (!c->eof) return false;
    return true;
  }));
  ASSERT_EQ(srv.conns.size(), 40u);
  for (auto& p : srv.conns) {
    const uint16_t proxy_port = rte_be_to_cpu_16(p->sk->c.dport);
    // The reply (backend -> proxy) as the NIC hashes it: queue 0 of 4.
    const uint32_t h = ToeplitzHashV4(SymmetricRssKey(40), kIpB, kIpA, kBack1, proxy_port);
    EXPECT_EQ(h % 4, 0u) << "port " << proxy_port;
  }
  for (auto& c : clients_) EXPECT_EQ(c->in, c->out);
  EXPECT_EQ(engine_->stats().port_picks, 40u);
  ExpectBackToBaseline(base);
}

// ------------------------------------------------------- health checks

TEST_F(EngineTest, ConnectChecks) {
  AddServer(kBack1);
  BlackHole(kBlackHole);
  const auto base = Snapshot();
  std::vector<std::pair<std::string, bool>> results;
  engine_->StartConnectCheck(B(kBack1), 1000, [&](bool ok) { results.push_back({"up", ok}); });
  engine_->StartConnectCheck(B(kRefused), 1000, [&](bool ok) { results.push_back({"refused", ok}); });
  engine_->StartConnectCheck(B(kBlackHole), 400, [&](bool ok) { results.push_back({"hole", ok}); });
  EXPECT_EQ(engine_->checks_in_flight(), 3u);
  ASSERT_TRUE(RunUntil([&] { return results.size() == 3; }));
  EXPECT_EQ(results[0], (std::pair<std::string, bool>{"up", true}));
  EXPECT_EQ(results[1], (std::pair<std::string, bool>{"refused", false}));
  EXPECT_EQ(results[2], (std::pair<std::string, bool>{"hole", false}));
  EXPECT_EQ(engine_->checks_in_flight(), 0u);
  EXPECT_EQ(engine_->stats().checks_ok, 1u);
  ExpectBackToBaseline(base);
}

// ------------------------------------------------------------- reload

TEST_F(EngineTest, ReloadKeepsRunningSessions) {
  Server& s1 = AddServer(kBack1);
  Server& s2 = AddServer(kBack2);
  const int fe = AddFrontend({B(kBack1)});
  const auto base = Snapshot();
  Peer& old_client = Dial(kFront);
  old_client.out = "old";
  ASSERT_TRUE(RunUntil([&] { return old_client.in == "old"; }));
  FrontendSpec next;
  next.name = "web";
  next.listen = A(kFront);
  next.backends = {B(kBack2), B(kBack1)};
  next.pick = [](uint32_t, uint16_t) { return 0; };
  ASSERT_TRUE(engine_->UpdateFrontend(fe, next).ok());
  Peer& new_client = Dial(kFront);
  new_client.out = "new";
  ASSERT_TRUE(RunUntil([&] { return new_client.in == "new"; }));
  EXPECT_EQ(s2.conns.size(), 1u);  // the new list and its pick
  old_client.out += " still here";
  ASSERT_TRUE(RunUntil([&] { return old_client.in == "old still here"; }));
  EXPECT_EQ(s1.conns.size(), 1u);
  // backend_counters follow the endpoint: B:8080 is index 1 now.
  EXPECT_EQ(Be(1).sessions, 1u);
  EXPECT_EQ(Be(0).sessions, 1u);
  // Remove the frontend: nobody listens; the sessions carry on.
  ASSERT_TRUE(engine_->RemoveFrontend(fe).ok());
  EXPECT_FALSE(engine_->listening(fe));
  new_client.out += "!";
  ASSERT_TRUE(RunUntil([&] { return new_client.in == "new!"; }));
  old_client.shut_when_sent = true;
  new_client.shut_when_sent = true;
  ASSERT_TRUE(RunUntil([&] { return old_client.eof && new_client.eof; }));
  ASSERT_TRUE(RunUntil([&] { return engine_->live_sessions() == 0; }));
  for (auto& c : clients_) c->Close();
  for (auto& s : servers_)
    for (auto& p : s->conns) p->Close();
  RunFor(2'000'000'000);
  EXPECT_EQ(Snapshot().tcbs_a, base.tcbs_a - 1);  // the listener went with the frontend
  EXPECT_EQ(Snapshot().mbufs_free, base.mbufs_free);
}

TEST_F(EngineTest, ListenErrorsAreReported) {
  AddFrontend({B(kBack1)});
  FrontendSpec dup;
  dup.name = "dup";
  dup.listen = A(kFront);
  dup.backends = {B(kBack1)};
  auto r = engine_->AddFrontend(dup);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("EADDRINUSE"), std::string::npos) << r.status();
  EXPECT_EQ(engine_->frontends(), 1u);
  EXPECT_EQ(engine_->stats().listen_errors, 1u);
  // The failed attempt left no socket and no fd behind.
  EXPECT_EQ(two_.a().sockets_in_use(), 1u);
  EXPECT_EQ(worker_->fds().open_count(), 4u);  // stdio and the listener
}

}  // namespace
}  // namespace dpx::proxy::testing
