// The commands dpx serves on its control socket, over what the appliance
// runs: its cores (reactor + TCP stacks), its process table and its ports.
//
//   info                        pid, version, cores, ports, instance
//   stats                       counters summed over cores, sockstat, ports
//   sysctl.list / .get / .set   the TCP tunables (every core's stacks)
//   conns                       the connection table, streamed per core
//   kill                        abort one connection by 4-tuple
//   proc.list / .show / .spawn / .fork / .exit / .kill / .call
//   proxy.show / .reload         the proxy (proxy_service.h), when dpx runs one
//
// Arguments and results: docs/dpxctl.md ("The protocol"). Everything that
// reads or changes a core's state runs on that core as a message
// (core_call.h) and is answered between bursts; the handlers run on the
// control server's client threads and wait at most `core_timeout` per step.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "control/control_server.h"

namespace dpx {
class Reactor;
class EthPort;
namespace tcp {
class TcpStack;
}
namespace sock {
class ProcessTable;
}
}  // namespace dpx

namespace dpx::control {

class ProxyService;

struct ControlCore {
  Reactor* reactor = nullptr;
  std::vector<tcp::TcpStack*> stacks;  // one per port, port 0's first
};

struct ControlTargets {
  std::vector<ControlCore> cores;  // index = core index (queue, TcpStackConfig::core_index)
  sock::ProcessTable* procs = nullptr;
  ProxyService* proxy = nullptr;  // --proxy-config; nullptr: no proxy
  std::vector<const EthPort*> ports;
  std::string version;
  // Changes every time dpx starts: dpxctl's nstat-like history is only
  // valid against the instance that wrote it.
  std::string instance;
  std::chrono::milliseconds core_timeout{5000};
};

void RegisterApplianceCommands(ControlServer& server, const ControlTargets& targets);

// The parts, for tests and smaller setups.
void RegisterInfoCommand(ControlServer& server, const ControlTargets& t);
void RegisterStatsCommands(ControlServer& server, const ControlTargets& t);
void RegisterSysctlCommands(ControlServer& server, const ControlTargets& t);
void RegisterConnsCommands(ControlServer& server, const ControlTargets& t);
void RegisterProcCommands(ControlServer& server, const ControlTargets& t);
void RegisterProxyCommands(ControlServer& server, const ControlTargets& t);

// Every reactor of `t`, in core order.
std::vector<Reactor*> Reactors(const ControlTargets& t);

}  // namespace dpx::control
