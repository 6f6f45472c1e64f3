// What dpxgen runs on: EAL from the profile, one mbuf pool and port, one
// reactor on the one lcore with its IpStack and TcpStack.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "net/ip_stack.h"
#include "net/port.h"
#include "net/port_profile.h"
#include "tcp/tcp_stack.h"

struct rte_mempool;

namespace dpx::app {

class GenRuntime {
 public:
  explicit GenRuntime(Profile profile) : profile_(std::move(profile)) {}
  ~GenRuntime();
  GenRuntime(const GenRuntime&) = delete;
  GenRuntime& operator=(const GenRuntime&) = delete;

  // EAL, the pool, the port (link awaited up to link_wait_ms: an error if
  // it stays down), the reactor and the stacks.
  absl::Status Start(const std::string& argv0, uint32_t link_wait_ms,
                     const tcp::TcpStackConfig& tcfg);

  Reactor& reactor() { return *reactor_; }
  IpStack& ip() { return *ip_; }
  tcp::TcpStack& tcp() { return *tcp_; }
  const CounterSet& counters() const { return *counters_; }
  const EthPort& port() const { return *port_; }

 private:
  Profile profile_;
  bool eal_up_ = false;
  TscClock clock_;
  std::unique_ptr<CounterSet> counters_;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<EthPort> port_;
  std::unique_ptr<Reactor> reactor_;
  std::unique_ptr<PortQueue> queue_;
  std::unique_ptr<IpStack> ip_;
  std::unique_ptr<tcp::TcpStack> tcp_;
};

}  // namespace dpx::app
