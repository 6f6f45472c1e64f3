#include "gen_runtime.h"

#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "core/timer_kinds.h"
#include "net/ipv4_addr.h"

namespace dpx::app {

GenRuntime::~GenRuntime() {
  tcp_.reset();
  ip_.reset();
  queue_.reset();
  reactor_.reset();
  if (port_ != nullptr) port_->Close();
  port_.reset();
  if (pool_ != nullptr) rte_mempool_free(pool_);
  if (eal_up_) rte_eal_cleanup();
}

absl::Status GenRuntime::Start(const std::string& argv0, uint32_t link_wait_ms,
                               const tcp::TcpStackConfig& tcfg_in) {
  if (auto st = InitEal(profile_, argv0); !st.ok()) return st;
  eal_up_ = true;
  clock_.Calibrate();
  counters_ = std::make_unique<CounterSet>(1);

  const PortProfile& pp = profile_.ports[0];
  auto pool = EthPort::CreatePool("dpxgen_mbuf", pp.mbufs, pp.mtu, SOCKET_ID_ANY);
  if (!pool.ok()) return pool.status();
  pool_ = *pool;
  auto port = EthPort::Open(PortSettings::FromProfile(profile_, pp, pool_));
  if (!port.ok()) return port.status();
  port_ = std::move(*port);
  DPX_LOG_INFO("%s", port_->Describe());
  if (auto st = port_->Start(); !st.ok()) return st;
  const LinkInfo link = port_->WaitForLink(link_wait_ms);
  if (!link.up)
    return absl::UnavailableError(absl::StrFormat(
        "%s: link down after %d ms (%s)%s", pp.name, link_wait_ms, link.text,
        pp.driver == DriverKind::kMemif ? "; is dpx running with --profile=memif?" : ""));
  DPX_LOG_INFO("%s: %s", pp.name, link.text);

  reactor_ = std::make_unique<Reactor>(rte_get_main_lcore(), &clock_, &counters_->core(0));
  queue_ = port_->MakeQueue(0, pp.queues_per_core);
  IpStackConfig cfg;
  cfg.ip = Ipv4FromHost(pp.ip);
  cfg.prefix_len = pp.prefix_len;
  cfg.gateway = Ipv4FromHost(pp.gateway);
  cfg.arp.timer_kind = timer_kind::kArpFirst;
  ip_ = std::make_unique<IpStack>(*reactor_, *queue_, pool_, cfg);
  ip_->AttachToReactor();
  tcp::TcpStackConfig tcfg = tcfg_in;
  tcfg.core_index = 0;
  tcp_ = std::make_unique<tcp::TcpStack>(*reactor_, *ip_, tcfg);
  ip_->Start();
  DPX_LOG_INFO("lcore %d: ip %s/%d, mac %s", rte_get_main_lcore(), FormatIpv4Host(pp.ip),
               pp.prefix_len, port_->mac_string());
  return absl::OkStatus();
}

}  // namespace dpx::app
