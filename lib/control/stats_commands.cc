// info and stats.
#include <unistd.h>

#include "absl/strings/str_format.h"
#include "control/appliance_commands.h"
#include "control/core_call.h"
#include "control/proxy_service.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "net/port.h"
#include "tcp/sockstat.h"
#include "tcp/tcp_stack.h"

namespace dpx::control {

std::vector<Reactor*> Reactors(const ControlTargets& t) {
  std::vector<Reactor*> out;
  for (const ControlCore& c : t.cores) out.push_back(c.reactor);
  return out;
}

namespace {

Json PortJson(const EthPort& p) {
  Json j = Json::object();
  j["name"] = p.name();
  j["ethdev"] = p.ethdev_name();
  j["driver"] = p.driver_name();
  j["mac"] = p.mac_string();
  j["link"] = p.link_up() ? "up" : "down";
  j["queues"] = p.queues();
  if (auto st = p.Stats(); st.ok()) {
    Json s = Json::object();
    s["rx_packets"] = st->ipackets;
    s["rx_bytes"] = st->ibytes;
    s["tx_packets"] = st->opackets;
    s["tx_bytes"] = st->obytes;
    s["rx_missed"] = st->imissed;
    s["rx_errors"] = st->ierrors;
    s["tx_errors"] = st->oerrors;
    s["rx_nombuf"] = st->rx_nombuf;
    j["stats"] = s;
  } else {
    j["stats_error"] = std::string(st.status().message());
  }
  return j;
}

// One core's share of `stats`, read on that core.
struct CoreStats {
  std::vector<int64_t> mib;
  tcp::SockStat sockstat;
  ReactorStats reactor;
};

}  // namespace

void RegisterInfoCommand(ControlServer& server, const ControlTargets& t) {
  server.Register("info", "what this dpx is: pid, version, cores, ports",
                  [t](const Json& args, Responder&) -> absl::StatusOr<Json> {
                    Args a("info", args);
                    if (auto st = a.Finish(); !st.ok()) return st;
                    Json j = Json::object();
                    j["pid"] = static_cast<int64_t>(getpid());
                    j["version"] = t.version;
                    j["instance"] = t.instance;
                    j["cores"] = t.cores.size();
                    Json lcores = Json::array();
                    for (const ControlCore& c : t.cores) lcores.push_back(c.reactor->core_id());
                    j["lcores"] = lcores;
                    Json ports = Json::array();
                    for (const EthPort* p : t.ports) ports.push_back(PortJson(*p));
                    j["ports"] = ports;
                    return j;
                  });
}

void RegisterStatsCommands(ControlServer& server, const ControlTargets& t) {
  server.Register(
      "stats",
      "every counter (nstat names) summed over cores, the sockstat line, per-port and per-core "
      "statistics",
      [t](const Json& args, Responder& out) -> absl::StatusOr<Json> {
        Args a("stats", args);
        if (auto st = a.Finish(); !st.ok()) return st;
        std::vector<std::vector<tcp::TcpStack*>> stacks;
        for (const ControlCore& c : t.cores) stacks.push_back(c.stacks);
        auto per_core = CallOnCores<CoreStats>(
            Reactors(t),
            [stacks](Reactor& r, size_t i) {
              CoreStats cs;
              cs.mib.resize(kMibCount);
              for (size_t m = 0; m < kMibCount; ++m) cs.mib[m] = r.mib().Get(static_cast<Mib>(m));
              cs.sockstat = tcp::ReadSockStat(stacks[i]);
              cs.reactor = r.stats();
              return cs;
            },
            t.core_timeout, &out.stopping());
        if (!per_core.ok()) return per_core.status();

        std::vector<int64_t> sum(kMibCount, 0);
        tcp::SockStat ss;
        Json cores = Json::array();
        for (size_t i = 0; i < per_core->size(); ++i) {
          const CoreStats& cs = (*per_core)[i];
          for (size_t m = 0; m < kMibCount; ++m) sum[m] += cs.mib[m];
          ss.inuse += cs.sockstat.inuse;
          ss.tw += cs.sockstat.tw;
          ss.alloc += cs.sockstat.alloc;
          Json c = Json::object();
          c["core"] = i;
          c["lcore"] = t.cores[i].reactor->core_id();
          c["iterations"] = cs.reactor.iterations;
          c["work"] = cs.reactor.work;
          c["max_gap_ns"] = cs.reactor.max_gap_ns;
          c["inbox_full"] = cs.reactor.inbox_full;
          cores.push_back(c);
        }
        // Orphans and memory are the shared (all-core) counts in every answer.
        if (!per_core->empty()) {
          ss.orphan = per_core->front().sockstat.orphan;
          ss.mem = per_core->front().sockstat.mem;
        }
        Json counters = Json::object();
        for (size_t m = 0; m < kMibCount; ++m) counters[MibNstatName(static_cast<Mib>(m))] = sum[m];
        // The proxy's per-frontend and per-backend counters (Proxy.<frontend>.<name>,
        // ProxyBackend.<pool>.<backend>.<name>), summed over cores.
        if (t.proxy != nullptr) {
          auto show = t.proxy->Show(t.core_timeout, &out.stopping());
          if (!show.ok()) return show.status();
          for (const auto& [name, v] : ProxyStatsCounters(*show)) counters[name] = v;
        }
        Json j = Json::object();
        j["instance"] = t.instance;
        j["counters"] = counters;
        j["sockstat"] = Json{{"inuse", ss.inuse},
                             {"orphan", ss.orphan},
                             {"tw", ss.tw},
                             {"alloc", ss.alloc},
                             {"mem", ss.mem}};
        j["sockstat_line"] = tcp::FormatSockStat(ss);
        Json ports = Json::array();
        for (const EthPort* p : t.ports) ports.push_back(PortJson(*p));
        j["ports"] = ports;
        j["cores"] = cores;
        return j;
      });
}

void RegisterApplianceCommands(ControlServer& server, const ControlTargets& targets) {
  RegisterInfoCommand(server, targets);
  RegisterStatsCommands(server, targets);
  RegisterSysctlCommands(server, targets);
  RegisterConnsCommands(server, targets);
  RegisterProcCommands(server, targets);
  RegisterProxyCommands(server, targets);
}

}  // namespace dpx::control
