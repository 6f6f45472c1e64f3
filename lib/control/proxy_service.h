// The proxy as the appliance runs it: one ProxyConfig (from --proxy-config)
// and, on every data-path core, a worker process `proxy-w<core>` owning a
// ProxyEngine on that core's first-port TCP stack with every frontend of
// the config (each core listens on the same ADDR:PORT in its own stack, as
// SO_REUSEPORT), a Balancer per frontend (MakeBalancer; the engine's
// session hooks feed leastconn), and TCP connect health checks per pool on
// a reactor timer, feeding one HealthState per backend whose transitions
// are logged and applied to that core's balancers.
//
// Threads: Start() runs before the cores poll (or while they are stopped);
// Show()/Reload() run on control threads and reach each core through its
// inbox (core_call.h); ShowNow() reads the cores directly and is only for
// when they are stopped (the exit summary).
//
// Health in Show(): a backend is "DOWN" when it is down on any core (that
// core gives it no new sessions), "UP" otherwise and when checks are off.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "control/protocol.h"
#include "proxy/config.h"
#include "proxy/rss_port.h"

namespace dpx {
class Reactor;
namespace tcp {
class TcpStack;
}
namespace sock {
class ProcessTable;
}
}  // namespace dpx

namespace dpx::control {

struct ProxyCoreTarget {
  Reactor* reactor = nullptr;
  tcp::TcpStack* stack = nullptr;  // the core's first-port stack (ProcessTable's)
  proxy::RssSpec rss;              // of that port; one queue -> any local port
};

struct ProxyReloadResult {
  std::string path;
  std::string summary;              // DiffConfig(old, new).Summary()
  std::vector<std::string> errors;  // per-core failures applying it (a listener that did not open)
};

class ProxyService {
 public:
  // `cores[i]` is core i of `pt`. `path`: the file the config came from,
  // the default for Reload().
  ProxyService(proxy::ProxyConfig config, std::string path, sock::ProcessTable& pt,
               std::vector<ProxyCoreTarget> cores);
  ~ProxyService();  // cores must be stopped (or their threads the caller's)
  ProxyService(const ProxyService&) = delete;
  ProxyService& operator=(const ProxyService&) = delete;

  // Spawns the workers, opens every listener and arms the health checks,
  // on the caller's thread: the cores must not be polling yet. An error
  // (a listener that cannot open) names the core and frontend.
  absl::Status Start();

  // {"frontends": [...], "pools": [...], "workers": [...]} summed over
  // cores (docs/dpxctl.md "proxy show").
  absl::StatusOr<Json> Show(std::chrono::milliseconds timeout,
                            const std::atomic<bool>* cancel = nullptr) const;
  // The same, reading the cores directly (they must be stopped).
  Json ShowNow() const;

  // Reads `path` (empty: the file dpx started with), validates it fully,
  // then applies it on every core through its inbox: frontends added,
  // removed, updated (established sessions keep their backend and
  // settings); balancers rebuilt where the pool changed; health checks
  // reconfigured. A bad file: InvalidArgument naming file:line, nothing
  // changes. Reloads are serialized.
  absl::StatusOr<ProxyReloadResult> Reload(const std::string& path,
                                           std::chrono::milliseconds timeout,
                                           const std::atomic<bool>* cancel = nullptr);

  // The running config and the file it came from.
  proxy::ProxyConfig config() const;
  std::string path() const;
  size_t cores() const { return cores_.size(); }

  struct Core;  // proxy_service.cc

 private:
  static Json SumToJson(const proxy::ProxyConfig& cfg, const std::vector<Json>& per_core);

  sock::ProcessTable& pt_;
  std::vector<ProxyCoreTarget> targets_;
  std::vector<std::unique_ptr<Core>> cores_;
  mutable std::mutex mu_;  // config_, path_
  proxy::ProxyConfig config_;
  std::string path_;
  std::mutex reload_mu_;
};

// The human table of `dpxctl proxy show` and dpx's exit summary, from
// Show()'s JSON.
std::string FormatProxyTable(const Json& show);

// The stats counters of a Show() answer: "Proxy.<frontend>.<counter>" and
// "ProxyBackend.<pool>.<backend>.<counter>" (docs/dpxctl.md).
std::vector<std::pair<std::string, int64_t>> ProxyStatsCounters(const Json& show);

}  // namespace dpx::control
