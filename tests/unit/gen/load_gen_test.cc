// dpxgen's engine on two stacks joined by the in-memory wire (virtual
// time): the client side on A, the server side on B, every mode; and the
// latency histogram it reports from.
#include "gen/load_gen.h"

#include <gtest/gtest.h>

#include "gen/latency_histogram.h"
#include "../tcp/tcp_harness.h"

namespace dpx::gen {
namespace {

using tcp::testing::kIpB;
using tcp::testing::TwoStacks;

TEST(LatencyHistogram, PercentilesWithinOneSixteenth) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  for (uint64_t us = 1; us <= 1000; ++us) h.Record(us * 1000);
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_EQ(h.min(), 1000u);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 1'000'000;
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_GE(got, want) << q;
    EXPECT_LE(got, want * (1 + 1.0 / 16) + 1000) << q;
  }
  EXPECT_EQ(h.Percentile(1.0), 1'000'000u);
  LatencyHistogram other;
  other.Record(5'000'000);
  h.Merge(other);
  EXPECT_EQ(h.count(), 1001u);
  EXPECT_EQ(h.Percentile(1.0), 5'000'000u);
  EXPECT_NEAR(h.mean(), (500'500'000.0 + 5'000'000) / 1001, 1);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 16; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(0.5), 7u);
  EXPECT_EQ(h.Percentile(1.0), 15u);
}

class LoadGenTest : public ::testing::Test {
 protected:
  void Make(GenConfig c) {
    c.target_be = kIpB;
    c.target_ports = {80, 81};
    GenConfig server = c;
    server.client = false;
    server.target_ports.clear();
    server.listen_ports = {80, 81};
    client_ = std::make_unique<LoadGen>(net_.a(), c);
    server_ = std::make_unique<LoadGen>(net_.b(), server);
    ASSERT_TRUE(server_->StartServer().ok());
    net_.a().reactor().AddPoller([this] { return client_->Poll(); });
    net_.b().reactor().AddPoller([this] { return server_->Poll(); });
    client_->StartHold();
  }
  // Runs virtual time in 1 ms steps until `done` or `limit_ms`.
  template <typename Fn>
  bool RunUntil(Fn done, int limit_ms) {
    for (int i = 0; i < limit_ms; ++i) {
      if (done()) return true;
      net_.Run(1'000'000);
    }
    return done();
  }
  void ExpectClean(const GenStats& s) {
    EXPECT_EQ(s.connect_failed, 0u);
    EXPECT_EQ(s.resets, 0u);
    EXPECT_EQ(s.errors, 0u);
    EXPECT_EQ(s.no_port, 0u);
  }
  // Everything closed: only the server's two listeners hold TCBs.
  void ExpectDrained() {
    client_->CloseAll();
    server_->CloseAll();
    ASSERT_TRUE(RunUntil([&] { return client_->closed_all() && server_->closed_all(); }, 5'000));
    net_.Run(2'000'000'000);
    EXPECT_EQ(net_.a().sockets_in_use(), 0u);
    EXPECT_EQ(net_.b().sockets_in_use(), 2u);
    EXPECT_EQ(client_->stats().live_client, 0u);
    EXPECT_EQ(server_->stats().live_server, 0u);
  }

  TwoStacks net_;
  std::unique_ptr<LoadGen> client_, server_;
};

TEST_F(LoadGenTest, CpsClientClosesFirst) {
  GenConfig c;
  c.mode = Mode::kCps;
  c.count = 300;
  c.concurrency = 16;
  Make(c);
  client_->StartMeasure();
  ASSERT_TRUE(RunUntil([&] { return client_->finished(); }, 20'000));
  const GenStats& s = client_->stats();
  EXPECT_EQ(s.opened, 300u);
  EXPECT_EQ(s.established, 300u);
  EXPECT_EQ(s.completed, 300u);
  EXPECT_EQ(s.latency.count(), 300u);
  EXPECT_EQ(s.bytes_tx, 300u * 100);
  EXPECT_EQ(s.bytes_rx, 300u * 1000);
  ExpectClean(s);
  // The server saw every request and answered it in full.
  EXPECT_EQ(server_->stats().accepted, 300u);
  EXPECT_EQ(server_->stats().bytes_rx, 300u * 100);
  EXPECT_EQ(server_->stats().bytes_tx, 300u * 1000);
  ExpectClean(server_->stats());
  // The client closed first: the TIME_WAITs are on A.
  EXPECT_GT(net_.a().mib().Get(Mib::Tcp_ActiveOpens), 0);
  ExpectDrained();
}

TEST_F(LoadGenTest, CpsServerClosesFirst) {
  GenConfig c;
  c.mode = Mode::kCps;
  c.count = 100;
  c.concurrency = 8;
  c.closer = Closer::kServer;
  c.resp_bytes = 5000;  // several segments: the FIN rides after all of them
  Make(c);
  client_->StartMeasure();
  ASSERT_TRUE(RunUntil([&] { return client_->finished(); }, 20'000));
  EXPECT_EQ(client_->stats().completed, 100u);
  EXPECT_EQ(client_->stats().bytes_rx, 100u * 5000);
  ExpectClean(client_->stats());
  ExpectClean(server_->stats());
  ExpectDrained();
}

TEST_F(LoadGenTest, RateLimitsNewConnections) {
  GenConfig c;
  c.mode = Mode::kCps;
  c.rate = 1000;  // per second
  c.concurrency = 64;
  Make(c);
  client_->StartMeasure();
  for (int ms = 0; ms < 500; ++ms) net_.Run(1'000'000);  // the poller runs every ms
  client_->StopMeasure();
  ASSERT_TRUE(RunUntil([&] { return client_->quiet(); }, 5'000));
  // Half a second at 1000/s (plus the bucket's 2 ms of burst).
  EXPECT_GE(client_->stats().opened, 495u);
  EXPECT_LE(client_->stats().opened, 505u);
  ExpectClean(client_->stats());
  ExpectDrained();
}

TEST_F(LoadGenTest, RpsKeepsConnectionsAndCountsRequests) {
  GenConfig c;
  c.mode = Mode::kRps;
  c.concurrency = 8;
  c.req_bytes = 100;
  c.resp_bytes = 100;
  Make(c);
  client_->StartMeasure();
  net_.Run(1'000'000'000);
  client_->StopMeasure();
  ASSERT_TRUE(RunUntil([&] { return client_->quiet(); }, 5'000));
  const GenStats& s = client_->stats();
  EXPECT_EQ(s.opened, 8u);  // keep-alive: no new connections
  EXPECT_GT(s.requests, 8u * 100);
  EXPECT_EQ(s.latency.count(), s.requests);
  EXPECT_EQ(s.bytes_tx, s.requests * 100);
  EXPECT_EQ(s.bytes_rx, s.requests * 100);
  EXPECT_EQ(server_->stats().bytes_rx, s.bytes_tx);
  ExpectClean(s);
  ExpectDrained();
}

TEST_F(LoadGenTest, BulkDownStreamsToTheClient) {
  GenConfig c;
  c.mode = Mode::kBulk;
  c.concurrency = 2;
  Make(c);
  client_->StartMeasure();
  net_.Run(200'000'000);
  EXPECT_GT(client_->stats().bytes_rx, 1'000'000u);
  EXPECT_EQ(server_->stats().bytes_rx, 2u * 100);  // the two requests
  ExpectClean(client_->stats());
  ExpectDrained();
}

TEST_F(LoadGenTest, HoldOpensIdleConnectionsAndStops) {
  GenConfig c;
  c.mode = Mode::kHold;
  c.count = 500;
  Make(c);
  ASSERT_TRUE(RunUntil([&] { return client_->hold_done(); }, 10'000));
  net_.Run(100'000'000);
  EXPECT_EQ(client_->stats().held, 500u);
  EXPECT_EQ(client_->stats().opened, 500u);  // none more once held
  EXPECT_EQ(server_->stats().accepted, 500u);
  EXPECT_EQ(net_.a().sockets_in_use(), 500u);
  EXPECT_EQ(client_->stats().bytes_tx, 0u);  // idle
  ExpectDrained();
}

TEST_F(LoadGenTest, RefusedConnectionsAreCounted) {
  GenConfig c;
  c.mode = Mode::kCps;
  c.count = 10;
  c.concurrency = 10;
  c.target_be = kIpB;
  c.target_ports = {99};  // nobody listens: RST
  client_ = std::make_unique<LoadGen>(net_.a(), c);
  net_.a().reactor().AddPoller([this] { return client_->Poll(); });
  client_->StartMeasure();
  ASSERT_TRUE(RunUntil([&] { return client_->finished(); }, 5'000));
  EXPECT_EQ(client_->stats().connect_failed, 10u);
  EXPECT_EQ(client_->stats().completed, 0u);
}

}  // namespace
}  // namespace dpx::gen
