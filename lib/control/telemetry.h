// dpx's DPDK telemetry commands (rte_telemetry, DPDK 22.11), so
// `dpdk-telemetry.py` and telemetry exporters read dpx like any DPDK app:
//
//   /dpx/stats      every non-zero counter by its nstat name
//                   ("TcpExtTCPAbortOnClose"), summed over cores; param
//                   "all": zeros too
//   /dpx/sockstat   {"inuse","orphan","tw","alloc","mem"}: the TCP line of
//                   /proc/net/sockstat, summed over cores
//   /dpx/ports      {"<port id>": {"rx_packets","tx_packets","rx_bytes",
//                   "tx_bytes","rx_errors","tx_errors","rx_missed",
//                   "rx_nombuf"}} from rte_eth_stats_get; param "<id>": one
//                   port (its dict at top level)
//   extra commands  RegisterTelemetryCommand() (e.g. /dpx/procs)
//
// Handlers run on DPDK's telemetry thread and never stop a core: counters
// are per-core int64 read racily by design (core/counters.h); TcpShared is
// atomics; the other sockstat fields (sockets allocated, hashed, mini-
// sockets) are aligned word-sized counts each written by one core, read
// the same way (one increment stale at worst, never torn), with no pointer
// followed into a core's tables. rte_eth_stats_get is what DPDK's own
// /ethdev/stats calls from that thread.
//
// Lifetime: DPDK cannot unregister a command. RegisterTelemetry() stores a
// copy of the sources behind a mutex; UnregisterTelemetry() (call it before
// the stacks or the CounterSet go away) clears them, after which the
// commands answer an empty dict. Registering twice replaces the sources
// (the commands are registered with DPDK once per process).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tcp/sockstat.h"

struct rte_tel_data;

namespace dpx {
class CounterSet;
namespace tcp {
class TcpStack;
}
}  // namespace dpx

namespace dpx::control {

struct TelemetrySources {
  const CounterSet* counters = nullptr;  // /dpx/stats (nullptr: empty dict)
  std::vector<tcp::TcpStack*> stacks;    // /dpx/sockstat: every core's stacks (one TcpShared)
  // Optional override for /dpx/sockstat (e.g. values the cores publish);
  // when set, `stacks` is not read.
  std::function<tcp::SockStat()> sockstat;
  std::vector<uint16_t> port_ids;        // /dpx/ports
};

// Registers /dpx/stats, /dpx/sockstat and /dpx/ports (once per process) and
// installs `s` as their sources. EAL must be initialised (telemetry is
// started by rte_eal_init unless --no-telemetry). Returns 0 or the negative
// errno rte_telemetry_register_cmd gave.
int RegisterTelemetry(const TelemetrySources& s);
// Clears the sources (commands stay registered, answer {}).
void UnregisterTelemetry();

// An extra command. `fn(params, d)` fills `d` (an rte_tel_data the caller
// has not started: call rte_tel_data_start_dict etc.) and returns 0 or a
// negative errno. `cmd` must start with '/' (DPDK: at most 56 characters of
// [A-Za-z0-9_/]). Re-registering a name replaces its function. Returns 0
// or a negative errno (-EINVAL bad name, -ENOSPC no slot left).
using TelemetryFn = std::function<int(const char* params, rte_tel_data* d)>;
int RegisterTelemetryCommand(const std::string& cmd, const std::string& help, TelemetryFn fn);

// What the handlers put in their dicts, in order, for direct use (the
// control server, tests). Return 0 or -EINVAL (bad params).
using TelemetryDict = std::vector<std::pair<std::string, int64_t>>;
int CollectStats(const char* params, TelemetryDict* out);
int CollectSockStat(TelemetryDict* out);
// All ports (params empty) or the one named by params: (port id, its dict).
int CollectPorts(const char* params, std::vector<std::pair<uint16_t, TelemetryDict>>* out);

// The handlers themselves, callable directly (tests, the control server):
// same signature as DPDK's telemetry_cb.
int TelemetryStats(const char* cmd, const char* params, rte_tel_data* d);
int TelemetrySockStat(const char* cmd, const char* params, rte_tel_data* d);
int TelemetryPorts(const char* cmd, const char* params, rte_tel_data* d);
// Dispatches a command registered with RegisterTelemetryCommand (-ENOENT
// when unknown).
int TelemetryCallExtra(const char* cmd, const char* params, rte_tel_data* d);

}  // namespace dpx::control
