#include "appliance.h"

#include <csignal>
#include <cstring>
#include <mutex>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "flags.h"
#include "stop_signals.h"
#include "control/appliance_commands.h"
#include "control/control_server.h"
#include "control/proxy_service.h"
#include "control/telemetry.h"
#include "core/log.h"
#include "net/arp.h"
#include "tcp/sockstat.h"
#include "net/ethernet.h"
#include "net/ipv4_addr.h"
#include "socket/process.h"

namespace dpx::app {

namespace {

std::atomic<bool> g_stop{false};
volatile std::sig_atomic_t g_signal = 0;

void OnSignal(int sig) {
  g_signal = sig;
  g_stop.store(true, std::memory_order_relaxed);
}

// /dpx/procs (DPDK telemetry): the process table while the appliance runs.
std::mutex g_tel_mu;
sock::ProcessTable* g_tel_procs = nullptr;

int TelemetryProcs(const char* /*params*/, rte_tel_data* d) {
  rte_tel_data_start_dict(d);
  std::lock_guard<std::mutex> lock(g_tel_mu);
  if (g_tel_procs == nullptr) return 0;
  int n = 0;
  for (const auto& p : g_tel_procs->List()) {
    if (++n > RTE_TEL_MAX_DICT_ENTRIES) break;
    rte_tel_data* c = rte_tel_data_alloc();
    if (c == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(c);
    rte_tel_data_add_dict_string(c, "name", p->name().c_str());
    rte_tel_data_add_dict_string(c, "state", sock::ProcStateName(p->state()));
    rte_tel_data_add_dict_int(c, "core", static_cast<int>(p->home_core()));
    rte_tel_data_add_dict_int(c, "ppid", p->ppid());
    rte_tel_data_add_dict_container(d, std::to_string(p->pid()).c_str(), c, 0);
  }
  return 0;
}

constexpr uint64_t kHousekeepingNs = 100 * kNsPerMs;
constexpr uint64_t kLinkCheckNs = kNsPerSec;


}  // namespace

Appliance::Appliance(Profile profile, RunOptions opts)
    : profile_(std::move(profile)), opts_(opts) {}

Appliance::~Appliance() {
  // The control plane before the cores it talks to; stacks and queues
  // before the ports, ports before their pools, all before EAL goes.
  StopControlPlane();
  control_.reset();
  proxy_.reset();
  procs_.reset();
  cores_.clear();
  for (auto& p : ports_) p->Close();
  ports_.clear();
  for (rte_mempool* mp : pools_) rte_mempool_free(mp);
  pools_.clear();
  if (eal_up_) rte_eal_cleanup();
}

void Appliance::InstallSignalHandlers() { InstallStopSignals(OnSignal); }

absl::Status Appliance::Start(const std::string& argv0) {
  // ---- control socket: a path in use is an error before anything starts ----
  if (!opts_.ctl_socket.empty()) {
    control_ = std::make_unique<control::ControlServer>();
    if (auto st = control_->Listen(opts_.ctl_socket); !st.ok()) {
      control_.reset();
      return st;
    }
  }

  // ---- EAL ----
  if (auto st = InitEal(profile_, argv0); !st.ok()) return st;
  eal_up_ = true;
  clock_.Calibrate();
  const unsigned cores = profile_.cores();
  if (rte_lcore_count() != cores || rte_get_main_lcore() != profile_.eal.lcore_list[0]) {
    return absl::InternalError(absl::StrFormat(
        "EAL runs %d lcores with main lcore %d; the profile asked for %s", rte_lcore_count(),
        rte_get_main_lcore(), profile_.eal.lcores));
  }
  DPX_LOG_INFO("EAL up: %d lcore(s) [%s], main lcore %d, %d ethdev(s), TSC %d Hz", cores,
               profile_.eal.lcores, rte_get_main_lcore(), rte_eth_dev_count_avail(),
               rte_get_tsc_hz());
  counters_ = std::make_unique<CounterSet>(cores);

  // ---- pools and ports ----
  for (size_t i = 0; i < profile_.ports.size(); ++i) {
    const PortProfile& pp = profile_.ports[i];
    int socket = SOCKET_ID_ANY;
    uint16_t pid;
    if (rte_eth_dev_get_port_by_name(pp.EthdevName().c_str(), &pid) == 0) {
      socket = rte_eth_dev_socket_id(pid);
    }
    auto pool = EthPort::CreatePool(absl::StrFormat("dpx_mbuf_%d", i), pp.mbufs, pp.mtu,
                                    socket);
    if (!pool.ok()) return pool.status();
    pools_.push_back(*pool);
    auto port = EthPort::Open(PortSettings::FromProfile(profile_, pp, *pool));
    if (!port.ok()) return port.status();
    DPX_LOG_INFO("%s", (*port)->Describe());
    if (auto st = (*port)->Start(); !st.ok()) return st;
    const LinkInfo link = (*port)->WaitForLink(opts_.link_wait_ms);
    if (link.up) {
      DPX_LOG_INFO("%s: %s", pp.name, link.text);
    } else {
      DPX_LOG_WARN("%s: link still down after %d ms (%s); continuing", pp.name,
                   opts_.link_wait_ms, link.text);
    }
    ports_.push_back(std::move(*port));
    last_link_.push_back(link.up);
  }

  // ---- reactors and stacks, one per lcore ----
  for (unsigned c = 0; c < cores; ++c) {
    auto core = std::make_unique<Core>();
    core->index = c;
    core->lcore = profile_.eal.lcore_list[c];
    core->app = this;
    core->reactor = std::make_unique<Reactor>(core->lcore, &clock_, &counters_->core(c));
    for (size_t i = 0; i < ports_.size(); ++i) {
      const PortProfile& pp = profile_.ports[i];
      core->queues.push_back(ports_[i]->MakeQueue(c, pp.queues_per_core));
      IpStackConfig cfg;
      cfg.ip = Ipv4FromHost(pp.ip);
      cfg.prefix_len = pp.prefix_len;
      cfg.gateway = Ipv4FromHost(pp.gateway);
      // Each port's ARP table needs its own timer slot on the core's wheel.
      cfg.arp.timer_kind = static_cast<uint16_t>(timer_kind::kArpFirst + i);
      core->stacks.push_back(
          std::make_unique<IpStack>(*core->reactor, *core->queues.back(), pools_[i], cfg));
      core->stacks.back()->AttachToReactor();
      tcp::TcpStackConfig tcfg;
      tcfg.shared = tcp_shared_.get();
      tcfg.core_index = c;
      tcfg.ehash_buckets = opts_.thash_entries;
      core->tcp.push_back(
          std::make_unique<tcp::TcpStack>(*core->reactor, *core->stacks.back(), tcfg));
      if (opts_.echo_port != 0) {
        core->echo.push_back(std::make_unique<EchoService>(*core->tcp.back(), opts_.echo_port));
        if (auto st = core->echo.back()->Start(); !st.ok()) return st;
      }
      DPX_LOG_INFO("lcore %d: %s rx queues %d..%d tx queue %d, ip %s/%d gateway %s, mac %s",
                   core->lcore, pp.name, core->queues.back()->first_queue(),
                   core->queues.back()->first_queue() + core->queues.back()->nqueues() - 1,
                   core->queues.back()->first_queue(), FormatIpv4Host(pp.ip), pp.prefix_len,
                   pp.gateway ? FormatIpv4Host(pp.gateway) : "none", ports_[i]->mac_string());
    }
    cores_.push_back(std::move(core));
  }
  ShareArpAcrossCores();
  cores_[0]->reactor->AddPoller([this] { return Housekeeping(); });

  // ---- processes: sockets made on a core live in port 0's stack there ----
  std::vector<sock::CoreStack> core_stacks;
  for (auto& core : cores_) core_stacks.push_back({core->reactor.get(), core->tcp[0].get()});
  procs_ = std::make_unique<sock::ProcessTable>(std::move(core_stacks));

  // ---- the proxy: a worker per lcore on port 0's stack ----
  if (opts_.proxy_config.has_value()) {
    std::vector<control::ProxyCoreTarget> targets;
    const EthPort& port0 = *ports_[0];
    proxy::RssSpec rss;
    if (port0.rss_enabled() && port0.queues() > 1) rss.key = port0.rss_key();
    rss.queues = port0.queues();
    rss.queues_per_core = profile_.ports[0].queues_per_core;
    for (auto& core : cores_)
      targets.push_back({core->reactor.get(), core->tcp[0].get(), rss});
    proxy_ = std::make_unique<control::ProxyService>(*opts_.proxy_config, opts_.proxy_config_path,
                                                     *procs_, std::move(targets));
    if (auto st = proxy_->Start(); !st.ok()) {
      return absl::Status(st.code(), absl::StrCat("proxy: ", st.message()));
    }
    DPX_LOG_INFO("proxy: %s: %d frontend(s), %d pool(s) on %d lcore(s)", opts_.proxy_config_path,
                 opts_.proxy_config->frontends.size(), opts_.proxy_config->pools.size(),
                 cores_.size());
  }
  return absl::OkStatus();
}

namespace {
// What one core's ARP table learned, for another core's table of the same port.
struct ArpLearnMessage : Message {
  IpStack* stack = nullptr;
  uint32_t ip = 0;
  rte_ether_addr mac{};
  bool confirmed = false;
};

void ApplyArpLearn(Reactor& /*r*/, Message* m) {
  auto* msg = static_cast<ArpLearnMessage*>(m);
  msg->stack->arp().Learn(msg->ip, msg->mac, msg->confirmed);
  delete msg;
}
}  // namespace

void Appliance::ShareArpAcrossCores() {
  if (cores_.size() < 2) return;
  for (auto& from : cores_) {
    for (size_t i = 0; i < from->stacks.size(); ++i) {
      Core* src = from.get();
      src->stacks[i]->arp().SetLearnHook(
          [this, src, i](uint32_t ip, const rte_ether_addr& mac, bool confirmed) {
            for (auto& to : cores_) {
              if (to.get() == src) continue;
              auto* msg = new ArpLearnMessage;
              msg->fn = ApplyArpLearn;
              msg->stack = to->stacks[i].get();
              msg->ip = ip;
              msg->mac = mac;
              msg->confirmed = confirmed;
              // A full inbox loses one update; that core resolves by itself.
              if (!src->reactor->Post(*to->reactor, msg)) delete msg;
            }
          });
    }
  }
}

int Appliance::LcoreMain(void* arg) {
  Core* core = static_cast<Core*>(arg);
  // The stack's first packets (gratuitous ARP, gateway resolution) go out
  // from the core that owns its queue.
  for (auto& s : core->stacks) s->Start();
  core->reactor->Run(g_stop);
  return 0;
}

void Appliance::Run() {
  ran_ = true;
  start_ns_ = clock_.NowNs();
  next_check_ns_ = start_ns_;
  next_stats_ns_ = start_ns_ + uint64_t{opts_.stats_interval_s} * kNsPerSec;
  DPX_LOG_INFO("running on %d lcore(s)%s; SIGINT/SIGTERM stops", cores_.size(),
               opts_.run_seconds ? absl::StrFormat(" for %d s", opts_.run_seconds) : "");
  for (size_t c = 1; c < cores_.size(); ++c) {
    if (int rc = rte_eal_remote_launch(&Appliance::LcoreMain, cores_[c].get(), cores_[c]->lcore);
        rc != 0) {
      DPX_LOG_ERROR("rte_eal_remote_launch(lcore %d): %s; stopping", cores_[c]->lcore,
                    rte_strerror(-rc));
      g_stop.store(true);
    }
  }
  StartControlPlane();
  LcoreMain(cores_[0].get());
  // Stopping: no new control requests; waits for cores give up.
  StopControlPlane();
  rte_eal_mp_wait_lcore();
  stop_ns_ = clock_.NowNs();
  if (g_signal != 0) {
    DPX_LOG_INFO("stopping on %s", strsignal(g_signal));
  } else {
    DPX_LOG_INFO("stopping after --run-seconds=%d", opts_.run_seconds);
  }
}

void Appliance::StartControlPlane() {
  control::ControlTargets t;
  for (auto& core : cores_) {
    control::ControlCore c;
    c.reactor = core->reactor.get();
    for (auto& s : core->tcp) c.stacks.push_back(s.get());
    t.cores.push_back(std::move(c));
  }
  t.procs = procs_.get();
  t.proxy = proxy_.get();
  for (auto& p : ports_) t.ports.push_back(p.get());
  t.version = std::string(absl::StripTrailingAsciiWhitespace(VersionText()));
  t.instance = absl::StrFormat("%d-%d", getpid(), clock_.NowNs());

  if (control_ != nullptr) {
    control::RegisterApplianceCommands(*control_, t);
    if (auto st = control_->Start(); !st.ok()) {
      DPX_LOG_ERROR("control server: %s", st.message());
    } else {
      DPX_LOG_INFO("control socket %s (dpxctl --socket=%s)", control_->path(),
                   control_->path());
    }
  }

  control::TelemetrySources ts;
  ts.counters = counters_.get();
  for (auto& core : cores_)
    for (auto& s : core->tcp) ts.stacks.push_back(s.get());
  for (auto& p : ports_) ts.port_ids.push_back(p->port_id());
  if (int rc = control::RegisterTelemetry(ts); rc != 0) {
    DPX_LOG_WARN("DPDK telemetry: cannot register /dpx commands: %s", rte_strerror(-rc));
  } else {
    telemetry_ = true;
    {
      std::lock_guard<std::mutex> lock(g_tel_mu);
      g_tel_procs = procs_.get();
    }
    if (int rc2 = control::RegisterTelemetryCommand(
            "/dpx/procs", "Processes: pid -> {name, state, core, ppid}. Parameters: None",
            TelemetryProcs);
        rc2 != 0) {
      DPX_LOG_WARN("DPDK telemetry: cannot register /dpx/procs: %s", rte_strerror(-rc2));
    }
  }
}

void Appliance::StopControlPlane() {
  if (control_ != nullptr) control_->Stop();
  if (telemetry_) {
    control::UnregisterTelemetry();
    std::lock_guard<std::mutex> lock(g_tel_mu);
    g_tel_procs = nullptr;
    telemetry_ = false;
  }
}

unsigned Appliance::Housekeeping() {
  const uint64_t now = cores_[0]->reactor->now_ns();
  if (now < next_check_ns_) return 0;
  next_check_ns_ = now + kHousekeepingNs;
  if (opts_.run_seconds != 0 && now - start_ns_ >= uint64_t{opts_.run_seconds} * kNsPerSec) {
    g_stop.store(true, std::memory_order_relaxed);
  }
  // Link state once a second; changes are logged.
  if ((now - start_ns_) / kLinkCheckNs != (now - start_ns_ - kHousekeepingNs) / kLinkCheckNs) {
    for (size_t i = 0; i < ports_.size(); ++i) {
      const LinkInfo li = ports_[i]->RefreshLink();
      if (li.up != last_link_[i]) {
        DPX_LOG_WARN("%s: %s", ports_[i]->name(), li.text);
        last_link_[i] = li.up;
      }
    }
  }
  if (opts_.stats_interval_s != 0 && now >= next_stats_ns_) {
    next_stats_ns_ = now + uint64_t{opts_.stats_interval_s} * kNsPerSec;
    LogStats();
  }
  return 0;
}

void Appliance::LogStats() const {
  for (const auto& p : ports_) {
    auto st = p->Stats();
    if (!st.ok()) {
      DPX_LOG_WARN("%s", st.status().message());
      continue;
    }
    DPX_LOG_INFO("stats %s: rx %d pkts %d bytes, tx %d pkts %d bytes, missed %d, nombuf %d, "
                 "errors rx %d tx %d, link %s",
                 p->name(), st->ipackets, st->ibytes, st->opackets, st->obytes, st->imissed,
                 st->rx_nombuf, st->ierrors, st->oerrors, p->link_up() ? "up" : "down");
  }
  DPX_LOG_INFO("counters: %s", NonZeroCounters(*counters_, " ", false));
}

void Appliance::Shutdown() {
  for (auto& p : ports_) {
    if (auto st = p->Stop(); !st.ok()) DPX_LOG_WARN("%s", st.message());
  }
}

void Appliance::PrintSummary(std::FILE* out) const {
  std::string s = "=== dpx summary ===\n";
  const double secs = ran_ ? static_cast<double>(stop_ns_ - start_ns_) / 1e9 : 0.0;
  absl::StrAppendFormat(&s, "ran %.1f s on %d lcore(s), profile %s, stopped by %s\n", secs,
                        cores_.size(), profile_.name,
                        g_signal != 0 ? absl::StrCat("SIG", sigabbrev_np(g_signal))
                                      : std::string("--run-seconds"));
  s += "ports:\n";
  for (const auto& p : ports_) {
    absl::StrAppendFormat(&s, "  %s %s mac %s\n", p->name(), p->ethdev_name(), p->mac_string());
    if (auto st = p->Stats(); st.ok()) {
      absl::StrAppendFormat(&s,
                            "    rx %d packets %d bytes, tx %d packets %d bytes, missed %d, "
                            "nombuf %d, errors rx %d tx %d\n",
                            st->ipackets, st->ibytes, st->opackets, st->obytes, st->imissed,
                            st->rx_nombuf, st->ierrors, st->oerrors);
    } else {
      absl::StrAppendFormat(&s, "    stats unavailable: %s\n", st.status().message());
    }
    if (auto xs = p->Xstats(); xs.ok()) {
      std::vector<std::string> nz;
      for (const auto& [name, v] : *xs) {
        if (v != 0) nz.push_back(absl::StrFormat("%s=%d", name, v));
      }
      absl::StrAppendFormat(&s, "    xstats (non-zero): %s\n",
                            nz.empty() ? "none" : absl::StrJoin(nz, " "));
    }
  }
  absl::StrAppendFormat(&s, "counters (nstat names, non-zero, summed over %d lcore(s)):\n",
                        cores_.size());
  const std::string nz = NonZeroCounters(*counters_, "\n", true);
  s += nz.empty() ? "  (all zero)\n" : nz + "\n";
  std::vector<tcp::TcpStack*> tcp_stacks;
  for (const auto& core : cores_)
    for (const auto& t : core->tcp) tcp_stacks.push_back(t.get());
  s += "sockstat: " + tcp::FormatSockStat(tcp::ReadSockStat(tcp_stacks)) + "\n";
  if (opts_.echo_port != 0) {
    EchoStats sum;
    for (const auto& core : cores_) {
      for (const auto& e : core->echo) {
        sum.accepted += e->stats().accepted;
        sum.closed += e->stats().closed;
        sum.bytes += e->stats().bytes;
        sum.errors += e->stats().errors;
      }
    }
    s += absl::StrFormat("echo service port %d: %d accepted, %d closed, %d bytes echoed, %d errors\n",
                         opts_.echo_port, sum.accepted, sum.closed, sum.bytes, sum.errors);
  }
  if (proxy_ != nullptr) {
    absl::StrAppendFormat(&s, "proxy (%s, summed over %d lcore(s)):\n", proxy_->path(),
                          cores_.size());
    s += control::FormatProxyTable(proxy_->ShowNow());
  }
  s += "arp table:\n";
  absl::StrAppendFormat(&s, "  %-6s %-8s %-16s %-18s %s\n", "lcore", "port", "ip", "mac",
                        "state");
  size_t rows = 0;
  for (const auto& core : cores_) {
    for (size_t i = 0; i < core->stacks.size(); ++i) {
      for (const ArpEntryInfo& e : core->stacks[i]->arp().List()) {
        const bool has_mac = e.state != NeighState::kIncomplete && e.state != NeighState::kFailed;
        absl::StrAppendFormat(&s, "  %-6d %-8s %-16s %-18s %s\n", core->lcore,
                              profile_.ports[i].name, FormatIpv4Host(Ipv4ToHost(e.ip)),
                              has_mac ? FormatMac(e.mac) : "-", NeighStateName(e.state));
        ++rows;
      }
    }
  }
  if (rows == 0) s += "  (empty)\n";
  std::fputs(s.c_str(), out);
  std::fflush(out);
}

}  // namespace dpx::app
