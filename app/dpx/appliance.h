// The running appliance: EAL from the profile, one mbuf pool and one
// EthPort per profile port, one Reactor per lcore, and on each lcore one
// IpStack per port on that core's queue. Start() brings everything up,
// Run() runs the reactors until a signal or --run-seconds, Shutdown() stops
// the ports, PrintSummary() reports. With a proxy config, Start() also
// starts the proxy (control/proxy_service.h) on every lcore.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "net/port.h"
#include "net/port_profile.h"
#include "proxy/config.h"
#include "echo_service.h"
#include "tcp/tcp_stack.h"

namespace dpx::sock {
class ProcessTable;
}
namespace dpx::control {
class ControlServer;
class ProxyService;
}

struct rte_mempool;

namespace dpx::app {

struct RunOptions {
  uint32_t run_seconds = 0;       // 0: until SIGINT/SIGTERM
  uint32_t stats_interval_s = 0;  // 0: never
  uint32_t link_wait_ms = 3000;   // how long Start() waits for link up
  uint16_t echo_port = 0;         // TCP echo service on every core (0: off)
  std::string ctl_socket;         // control socket for dpxctl ("": none)
  std::optional<proxy::ProxyConfig> proxy_config;  // --proxy-config, validated
  std::string proxy_config_path;
  uint32_t thash_entries = 1u << 20;  // ehash buckets per core
};

class Appliance {
 public:
  Appliance(Profile profile, RunOptions opts);
  ~Appliance();  // stops ports and cleans EAL up if Start() got that far

  // The control socket (first, so a second dpx on the same path fails
  // before it touches EAL), EAL, pools, ports (started, link awaited),
  // reactors, stacks and the process table.
  absl::Status Start(const std::string& argv0);
  // Launches a reactor on every worker lcore, runs the main lcore's own,
  // and returns once all have stopped.
  void Run();
  // Stops and closes the ports.
  void Shutdown();
  // Counters (non-zero, nstat names), port statistics, ARP tables.
  void PrintSummary(std::FILE* out) const;

  // Installs SIGINT/SIGTERM handlers that make Run() return.
  static void InstallSignalHandlers();

 private:
  struct Core {
    unsigned index = 0;  // 0..cores-1; queue index
    unsigned lcore = 0;
    Appliance* app = nullptr;
    std::unique_ptr<Reactor> reactor;
    std::vector<std::unique_ptr<PortQueue>> queues;  // one per port
    std::vector<std::unique_ptr<IpStack>> stacks;    // one per port
    std::vector<std::unique_ptr<tcp::TcpStack>> tcp;  // one per port, on its IpStack
    std::vector<std::unique_ptr<EchoService>> echo;   // --echo-port: one per port
  };

  static int LcoreMain(void* arg);
  // Every core learns what any core's ARP table hears (ARP reaches one queue).
  void ShareArpAcrossCores();
  unsigned Housekeeping();  // main lcore poller: deadline, stats, link
  void LogStats() const;
  void StartControlPlane();
  void StopControlPlane();

  Profile profile_;
  RunOptions opts_;
  bool eal_up_ = false;
  TscClock clock_;
  std::unique_ptr<CounterSet> counters_;
  // What every core's TCP shares (orphans, TIME_WAIT, memory), as Linux's
  // per-namespace TCP globals. Declared before cores_ so it outlives them.
  std::unique_ptr<tcp::TcpShared> tcp_shared_ = std::make_unique<tcp::TcpShared>();
  std::vector<rte_mempool*> pools_;
  std::vector<std::unique_ptr<EthPort>> ports_;
  std::vector<std::unique_ptr<Core>> cores_;
  uint64_t start_ns_ = 0;
  uint64_t stop_ns_ = 0;
  uint64_t next_check_ns_ = 0;
  uint64_t next_stats_ns_ = 0;
  std::vector<bool> last_link_;
  bool ran_ = false;
  // After cores_: destroyed before the stacks they point into.
  std::unique_ptr<sock::ProcessTable> procs_;
  // After procs_: its workers are processes there; destroyed first.
  std::unique_ptr<control::ProxyService> proxy_;
  std::unique_ptr<control::ControlServer> control_;
  bool telemetry_ = false;
};

}  // namespace dpx::app
