// DPDK telemetry commands (lib/control/telemetry): the collectors behind
// /dpx/stats, /dpx/sockstat and /dpx/ports, the rte_telemetry handlers, and
// extra commands. (Tests run EAL with --no-telemetry, so the handlers are
// called directly rather than through the telemetry socket.)
#include "control/telemetry.h"

#include <gtest/gtest.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include <map>
#include <string>

#include "core/counters.h"
#include "support/eal_env.h"
#include "unit/tcp/tcp_harness.h"

namespace dpx::control {
namespace {

std::map<std::string, int64_t> AsMap(const TelemetryDict& d) {
  std::map<std::string, int64_t> m;
  for (const auto& [k, v] : d) m[k] = v;
  return m;
}

class Telemetry : public ::testing::Test {
 protected:
  void TearDown() override { UnregisterTelemetry(); }
};

TEST_F(Telemetry, StatsByNstatNameSummedOverCores) {
  CounterSet set(2);
  set.core(0).Inc(Mib::TcpExt_TCPAbortOnClose, 3);
  set.core(1).Inc(Mib::TcpExt_TCPAbortOnClose, 2);
  set.core(1).Inc(Mib::Tcp_ActiveOpens);
  TelemetrySources src;
  src.counters = &set;
  ASSERT_EQ(RegisterTelemetry(src), 0);

  TelemetryDict d;
  ASSERT_EQ(CollectStats(nullptr, &d), 0);
  auto m = AsMap(d);
  EXPECT_EQ(m.size(), 2u);  // non-zero only
  EXPECT_EQ(m["TcpExtTCPAbortOnClose"], 5);
  EXPECT_EQ(m["TcpActiveOpens"], 1);

  d.clear();
  ASSERT_EQ(CollectStats("all", &d), 0);
  EXPECT_EQ(d.size(), kMibCount);
  EXPECT_EQ(AsMap(d)["TcpExtTCPAbortOnClose"], 5);
  EXPECT_EQ(AsMap(d)["TcpExtTCPAbortOnData"], 0);
  EXPECT_EQ(CollectStats("bogus", &d), -EINVAL);

  // The rte_telemetry handler fills a dict (and refuses bad params).
  rte_tel_data* td = rte_tel_data_alloc();
  ASSERT_NE(td, nullptr);
  EXPECT_EQ(TelemetryStats("/dpx/stats", "", td), 0);
  EXPECT_EQ(TelemetryStats("/dpx/stats", "all", td), 0);  // > 256 counters: capped, no error
  EXPECT_EQ(TelemetryStats("/dpx/stats", "x", td), -EINVAL);
  rte_tel_data_free(td);

  // Registering again replaces the sources; unregistering empties answers.
  RegisterTelemetry(src);
  UnregisterTelemetry();
  d.clear();
  ASSERT_EQ(CollectStats(nullptr, &d), 0);
  EXPECT_TRUE(d.empty());
}

TEST_F(Telemetry, SockStatFromStacks) {
  tcp::testing::TwoStacks t;
  auto conn = t.Connect(80);
  ASSERT_NE(conn.second, nullptr);
  TelemetrySources src;
  src.stacks = {&t.b()};
  ASSERT_EQ(RegisterTelemetry(src), 0);
  TelemetryDict d;
  ASSERT_EQ(CollectSockStat(&d), 0);
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].first, "inuse");  // sockstat's order
  auto m = AsMap(d);
  EXPECT_EQ(m["inuse"], 2);  // listener + child
  EXPECT_EQ(m["alloc"], 2);
  EXPECT_EQ(m["orphan"], 0);
  EXPECT_EQ(m["tw"], 0);

  // An override (values the cores publish) wins over reading the stacks.
  src.sockstat = [] {
    tcp::SockStat s;
    s.tw = 7;
    return s;
  };
  RegisterTelemetry(src);
  d.clear();
  ASSERT_EQ(CollectSockStat(&d), 0);
  EXPECT_EQ(AsMap(d)["tw"], 7);
  EXPECT_EQ(AsMap(d)["inuse"], 0);

  rte_tel_data* td = rte_tel_data_alloc();
  EXPECT_EQ(TelemetrySockStat("/dpx/sockstat", nullptr, td), 0);
  rte_tel_data_free(td);
}

TEST_F(Telemetry, PortsFromEthdevStats) {
  ASSERT_EQ(rte_dev_probe("net_null_tel0"), 0);
  uint16_t port = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_null_tel0", &port), 0);
  rte_eth_conf conf{};
  ASSERT_EQ(rte_eth_dev_configure(port, 1, 1, &conf), 0);
  ASSERT_EQ(rte_eth_rx_queue_setup(port, 0, 64, SOCKET_ID_ANY, nullptr, dpx::testing::TestPool()), 0);
  ASSERT_EQ(rte_eth_tx_queue_setup(port, 0, 64, SOCKET_ID_ANY, nullptr), 0);
  ASSERT_EQ(rte_eth_dev_start(port), 0);
  rte_mbuf* pkts[8];
  const uint16_t n = rte_eth_rx_burst(port, 0, pkts, 8);
  ASSERT_GT(n, 0);
  const uint16_t sent = rte_eth_tx_burst(port, 0, pkts, n);  // the null PMD frees them
  ASSERT_EQ(sent, n);

  TelemetrySources src;
  src.port_ids = {port};
  ASSERT_EQ(RegisterTelemetry(src), 0);
  std::vector<std::pair<uint16_t, TelemetryDict>> ports;
  ASSERT_EQ(CollectPorts(nullptr, &ports), 0);
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0].first, port);
  auto m = AsMap(ports[0].second);
  EXPECT_EQ(m["rx_packets"], n);
  EXPECT_EQ(m["tx_packets"], n);
  EXPECT_EQ(m["rx_errors"], 0);
  EXPECT_EQ(m["rx_missed"], 0);
  EXPECT_TRUE(m.count("rx_bytes") && m.count("tx_bytes") && m.count("tx_errors"));

  ports.clear();
  const std::string id = std::to_string(port);
  ASSERT_EQ(CollectPorts(id.c_str(), &ports), 0);
  EXPECT_EQ(ports.size(), 1u);
  EXPECT_EQ(CollectPorts("999", &ports), -EINVAL);
  EXPECT_EQ(CollectPorts("x", &ports), -EINVAL);

  rte_tel_data* td = rte_tel_data_alloc();
  EXPECT_EQ(TelemetryPorts("/dpx/ports", id.c_str(), td), 0);
  EXPECT_EQ(TelemetryPorts("/dpx/ports", "77", td), -EINVAL);
  // (All ports: one container per port, which DPDK frees once it has
  // written the JSON; called directly here it would leak, so only the
  // empty case.)
  UnregisterTelemetry();
  EXPECT_EQ(TelemetryPorts("/dpx/ports", "", td), 0);
  rte_tel_data_free(td);

  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
}

TEST_F(Telemetry, ExtraCommands) {
  int calls = 0;
  std::string seen;
  ASSERT_EQ(RegisterTelemetryCommand("/dpx/procs", "Processes", [&](const char* params, rte_tel_data* d) {
              ++calls;
              seen = params ? params : "";
              rte_tel_data_start_dict(d);
              rte_tel_data_add_dict_int(d, "count", 2);
              return 0;
            }),
            0);
  rte_tel_data* td = rte_tel_data_alloc();
  EXPECT_EQ(TelemetryCallExtra("/dpx/procs", "101", td), 0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, "101");
  EXPECT_EQ(TelemetryCallExtra("/dpx/nope", "", td), -ENOENT);
  // Re-registering replaces the function.
  ASSERT_EQ(RegisterTelemetryCommand("/dpx/procs", "Processes", [](const char*, rte_tel_data* d) {
              rte_tel_data_start_dict(d);
              return -EBUSY;
            }),
            0);
  EXPECT_EQ(TelemetryCallExtra("/dpx/procs", "", td), -EBUSY);
  EXPECT_EQ(calls, 1);
  rte_tel_data_free(td);
  EXPECT_EQ(RegisterTelemetryCommand("dpx/bad", "", [](const char*, rte_tel_data*) { return 0; }),
            -EINVAL);
  EXPECT_EQ(RegisterTelemetryCommand("/dpx/bad-name", "", [](const char*, rte_tel_data*) { return 0; }),
            -EINVAL);
}

}  // namespace
}  // namespace dpx::control
