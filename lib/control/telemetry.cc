// DPDK telemetry commands for dpx (telemetry.h).
#include "control/telemetry.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <rte_ethdev.h>
#include <rte_telemetry.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/counters.h"
#include "tcp/sockstat.h"

namespace dpx::control {

namespace {

struct State {
  std::mutex mu;
  bool have_sources = false;
  TelemetrySources sources;
  bool builtins_registered = false;
  std::map<std::string, TelemetryFn> extra;  // by command name
  std::list<std::string> help;                // DPDK keeps the pointers: never freed
};

State& G() {
  static State* s = new State();  // never destroyed: DPDK's thread may call in at exit
  return *s;
}

bool ParamIs(const char* params, const char* word) {
  return params != nullptr && std::strcmp(params, word) == 0;
}

// A telemetry_cb that dispatches the extra commands by name.
int ExtraTrampoline(const char* cmd, const char* params, rte_tel_data* d) {
  return TelemetryCallExtra(cmd, params, d);
}

bool ValidCommandName(const std::string& cmd) {
  if (cmd.size() < 2 || cmd.size() > 56 || cmd[0] != '/') return false;
  for (char c : cmd)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '/'))
      return false;
  return true;
}

}  // namespace

int CollectStats(const char* params, TelemetryDict* out) {
  const bool all = ParamIs(params, "all");
  if (params != nullptr && *params != '\0' && !all) return -EINVAL;
  State& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  if (!g.have_sources || g.sources.counters == nullptr) return 0;
  const std::vector<int64_t> snap = g.sources.counters->Snapshot();
  for (size_t i = 0; i < snap.size() && i < kMibCount; ++i) {
    if (snap[i] == 0 && !all) continue;
    out->emplace_back(MibNstatName(static_cast<Mib>(i)), snap[i]);
  }
  return 0;
}

int CollectSockStat(TelemetryDict* out) {
  State& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  if (!g.have_sources) return 0;
  tcp::SockStat s;
  if (g.sources.sockstat) {
    s = g.sources.sockstat();
  } else if (!g.sources.stacks.empty()) {
    s = tcp::ReadSockStat(g.sources.stacks);
  } else {
    return 0;
  }
  *out = {{"inuse", s.inuse}, {"orphan", s.orphan}, {"tw", s.tw}, {"alloc", s.alloc},
          {"mem", s.mem}};
  return 0;
}

namespace {

TelemetryDict PortDict(const rte_eth_stats& st) {
  auto v = [](uint64_t x) { return static_cast<int64_t>(x); };
  return {{"rx_packets", v(st.ipackets)}, {"tx_packets", v(st.opackets)},
          {"rx_bytes", v(st.ibytes)},     {"tx_bytes", v(st.obytes)},
          {"rx_errors", v(st.ierrors)},   {"tx_errors", v(st.oerrors)},
          {"rx_missed", v(st.imissed)},   {"rx_nombuf", v(st.rx_nombuf)}};
}

}  // namespace

int CollectPorts(const char* params, std::vector<std::pair<uint16_t, TelemetryDict>>* out) {
  State& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  const bool one = params != nullptr && *params != '\0';
  uint32_t want = 0;
  if (one && (!absl::SimpleAtoi(params, &want) || want > UINT16_MAX)) return -EINVAL;
  bool found = false;
  if (g.have_sources) {
    for (uint16_t p : g.sources.port_ids) {
      if (one && p != want) continue;
      found = true;
      rte_eth_stats st{};
      if (rte_eth_stats_get(p, &st) != 0) {
        if (one) return -EINVAL;
        continue;
      }
      out->emplace_back(p, PortDict(st));
    }
  }
  if (one && !found) return -EINVAL;
  return 0;
}

namespace {

// Counters are u64 in DPDK's dicts; a negative sum (never expected) is
// sent as a signed int when it fits, else clamped at 0.
void AddDict(rte_tel_data* d, const TelemetryDict& kv) {
  int n = 0;
  for (const auto& [name, v] : kv) {
    if (n++ == RTE_TEL_MAX_DICT_ENTRIES) break;  // DPDK's limit per dict
    if (v >= 0)
      rte_tel_data_add_dict_u64(d, name.c_str(), static_cast<uint64_t>(v));
    else if (v >= INT32_MIN)
      rte_tel_data_add_dict_int(d, name.c_str(), static_cast<int>(v));
    else
      rte_tel_data_add_dict_u64(d, name.c_str(), 0);
  }
}

}  // namespace

int TelemetryStats(const char* /*cmd*/, const char* params, rte_tel_data* d) {
  TelemetryDict kv;
  const int rc = CollectStats(params, &kv);
  if (rc != 0) return rc;
  rte_tel_data_start_dict(d);
  AddDict(d, kv);
  return 0;
}

int TelemetrySockStat(const char* /*cmd*/, const char* /*params*/, rte_tel_data* d) {
  TelemetryDict kv;
  const int rc = CollectSockStat(&kv);
  if (rc != 0) return rc;
  rte_tel_data_start_dict(d);
  AddDict(d, kv);
  return 0;
}

int TelemetryPorts(const char* /*cmd*/, const char* params, rte_tel_data* d) {
  std::vector<std::pair<uint16_t, TelemetryDict>> ports;
  const int rc = CollectPorts(params, &ports);
  if (rc != 0) return rc;
  rte_tel_data_start_dict(d);
  if (params != nullptr && *params != '\0') {
    if (!ports.empty()) AddDict(d, ports.front().second);
    return 0;
  }
  for (const auto& [id, kv] : ports) {
    rte_tel_data* sub = rte_tel_data_alloc();
    if (sub == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(sub);
    AddDict(sub, kv);
    const std::string key = std::to_string(id);
    if (rte_tel_data_add_dict_container(d, key.c_str(), sub, 0) != 0) rte_tel_data_free(sub);
  }
  return 0;
}

int TelemetryCallExtra(const char* cmd, const char* params, rte_tel_data* d) {
  TelemetryFn fn;
  {
    State& g = G();
    std::lock_guard<std::mutex> lock(g.mu);
    auto it = g.extra.find(cmd != nullptr ? cmd : "");
    if (it == g.extra.end()) return -ENOENT;
    fn = it->second;  // a copy: the function runs without the lock
  }
  return fn(params, d);
}

int RegisterTelemetry(const TelemetrySources& s) {
  State& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  g.sources = s;
  g.have_sources = true;
  if (g.builtins_registered) return 0;
  int rc = rte_telemetry_register_cmd(
      "/dpx/stats", TelemetryStats,
      "Non-zero dpx counters by nstat name, summed over cores. Parameters: \"all\" for zeros too");
  if (rc == 0)
    rc = rte_telemetry_register_cmd("/dpx/sockstat", TelemetrySockStat,
                                    "TCP sockstat: inuse, orphan, tw, alloc, mem. No parameters");
  if (rc == 0)
    rc = rte_telemetry_register_cmd(
        "/dpx/ports", TelemetryPorts,
        "Per-port rx/tx packets, bytes, errors, missed. Parameters: port id (optional)");
  if (rc == 0) g.builtins_registered = true;
  return rc;
}

void UnregisterTelemetry() {
  State& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  g.sources = TelemetrySources{};
  g.have_sources = false;
}

int RegisterTelemetryCommand(const std::string& cmd, const std::string& help, TelemetryFn fn) {
  if (!ValidCommandName(cmd) || !fn) return -EINVAL;
  State& g = G();
  std::lock_guard<std::mutex> lock(g.mu);
  const bool known = g.extra.count(cmd) != 0;
  g.extra[cmd] = std::move(fn);
  if (known) return 0;
  // DPDK keeps the help pointer: the string lives as long as the process.
  const std::string& h = g.help.emplace_back(help);
  const int rc = rte_telemetry_register_cmd(cmd.c_str(), ExtraTrampoline, h.c_str());
  if (rc != 0) {
    g.extra.erase(cmd);
    g.help.pop_back();
  }
  return rc;
}

}  // namespace dpx::control
