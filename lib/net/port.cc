#include "net/port.h"

#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "net/ethernet.h"  // FormatMac
#include "net/port_profile.h"

namespace dpx {

absl::Status InitEal(const Profile& profile, const std::string& argv0) {
  std::vector<std::string> args = EalArgv(profile, argv0);
  DPX_LOG_INFO("profile %s (%s): EAL args: %s", profile.name, profile.source,
               absl::StrJoin(args.begin() + 1, args.end(), " "));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    return absl::InternalError(absl::StrFormat("rte_eal_init: %s (EAL args: %s)",
                                               rte_strerror(rte_errno), absl::StrJoin(args, " ")));
  }
  return absl::OkStatus();
}


namespace {

constexpr uint32_t kPoolCache = 256;
// The hash dpx wants: IPv4 and TCP over IPv4 (the proxy's flows). Toeplitz
// over (src, dst) with a symmetric key is symmetric for the 4-tuple too.
constexpr uint64_t kWantedRssHf = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP;

std::string Errno(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

}  // namespace

PortSettings PortSettings::FromProfile(const Profile& p, const PortProfile& port,
                                       rte_mempool* pool) {
  PortSettings s;
  s.name = port.name;
  s.ethdev_name = port.EthdevName();
  s.queues = p.QueuesOf(port);
  s.rx_ring = port.rx_ring;
  s.tx_ring = port.tx_ring;
  s.rss_key = port.rss_key;
  s.rx_offloads = port.rx_offloads;
  s.tx_offloads = port.tx_offloads;
  s.mtu = port.mtu;
  s.pool = pool;
  return s;
}

std::string OffloadNames(uint64_t bits, bool rx) {
  std::vector<std::string> names;
  uint64_t rest = bits;
  for (const auto& o : KnownOffloads()) {
    if (o.rx == rx && (bits & o.bit) != 0) {
      names.push_back(o.name);
      rest &= ~o.bit;
    }
  }
  for (int b = 0; b < 64; ++b) {
    const uint64_t bit = uint64_t{1} << b;
    if ((rest & bit) == 0) continue;
    names.push_back(rx ? rte_eth_dev_rx_offload_name(bit) : rte_eth_dev_tx_offload_name(bit));
  }
  return names.empty() ? "none" : absl::StrJoin(names, " ");
}

absl::StatusOr<rte_mempool*> EthPort::CreatePool(const std::string& name, uint32_t mbufs,
                                                 uint16_t mtu, int socket) {
  // One frame per mbuf: headroom + Ethernet + VLAN + MTU + CRC.
  const uint32_t frame = static_cast<uint32_t>(mtu) + RTE_ETHER_HDR_LEN + RTE_VLAN_HLEN +
                         RTE_ETHER_CRC_LEN;
  const uint32_t room =
      std::max<uint32_t>(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + frame);
  if (room > UINT16_MAX) {
    return absl::InvalidArgumentError(absl::StrFormat("mbuf pool %s: mtu %d too large", name, mtu));
  }
  rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), mbufs, kPoolCache, 0,
                                            static_cast<uint16_t>(room), socket);
  if (mp == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "mbuf pool %s (%d mbufs of %d bytes, socket %d): rte_pktmbuf_pool_create: %s", name,
        mbufs, room, socket, rte_strerror(rte_errno)));
  }
  return mp;
}

absl::Status EthPort::Fail(std::string_view call, int rc) const {
  return absl::InternalError(absl::StrFormat("%s (%s): %s: %s", settings_.name,
                                             settings_.ethdev_name, call, Errno(rc)));
}

absl::StatusOr<std::unique_ptr<EthPort>> EthPort::Open(const PortSettings& s) {
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(s.ethdev_name.c_str(), &port_id) != 0) {
    std::vector<std::string> known;
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) {
      char nm[RTE_ETH_NAME_MAX_LEN];
      if (rte_eth_dev_get_name_by_port(pid, nm) == 0) known.push_back(nm);
    }
    return absl::NotFoundError(absl::StrFormat(
        "%s: no ethdev named %s after EAL probing (ports: %s); check the device/pci key, the "
        "driver (PMD) and, for PCI NICs, the kernel driver binding",
        s.name, s.ethdev_name, known.empty() ? "none" : absl::StrJoin(known, ", ")));
  }
  if (s.pool == nullptr) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: no mbuf pool", s.name));
  }
  if (s.queues == 0) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: zero queues", s.name));
  }
  std::unique_ptr<EthPort> port(new EthPort(s, port_id));
  if (auto st = port->Configure(); !st.ok()) return st;
  return port;
}

absl::Status EthPort::Configure() {
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id_, &info); rc != 0) {
    return Fail("rte_eth_dev_info_get", rc);
  }
  driver_name_ = info.driver_name != nullptr ? info.driver_name : "?";
  socket_ = rte_eth_dev_socket_id(port_id_);
  if (socket_ < 0) socket_ = SOCKET_ID_ANY;

  const uint16_t q = settings_.queues;
  if (q > info.max_rx_queues || q > info.max_tx_queues) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s (%s): plan needs %d rx/tx queues, device has at most %d rx / %d tx (lower lcores "
        "or queues_per_core)",
        settings_.name, settings_.ethdev_name, q, info.max_rx_queues, info.max_tx_queues));
  }
  if (settings_.mtu < info.min_mtu || settings_.mtu > info.max_mtu) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s (%s): mtu %d outside the device's range [%d, %d]", settings_.name,
                        settings_.ethdev_name, settings_.mtu, info.min_mtu, info.max_mtu));
  }

  rte_eth_conf conf{};
  conf.rxmode.mtu = settings_.mtu;

  // Offloads: only what the device reports; the stack does the rest.
  rx_offloads_ = settings_.rx_offloads & info.rx_offload_capa;
  tx_offloads_ = settings_.tx_offloads & info.tx_offload_capa;
  conf.rxmode.offloads = rx_offloads_;
  conf.txmode.offloads = tx_offloads_;

  // RSS with a symmetric key, where the device hashes at all.
  rss_hf_ = kWantedRssHf & info.flow_type_rss_offloads;
  if (rss_hf_ != 0) {
    const size_t dev_len = info.hash_key_size != 0 ? info.hash_key_size : 40;
    if (settings_.rss_key.empty()) {
      rss_key_ = SymmetricRssKey(dev_len);
    } else if (settings_.rss_key.size() != dev_len) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s (%s): profile rss_key is %d bytes, the device (%s) takes %d-byte keys",
          settings_.name, settings_.ethdev_name, settings_.rss_key.size(), driver_name_,
          dev_len));
    } else {
      rss_key_ = settings_.rss_key;
    }
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = rss_key_.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(rss_key_.size());
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf_;
  } else {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
    if (q > 1) {
      DPX_LOG_WARN("%s (%s): device has no RSS; %d rx queues will not share flows", settings_.name,
                   settings_.ethdev_name, q);
    }
  }

  if (int rc = rte_eth_dev_configure(port_id_, q, q, &conf); rc != 0) {
    return Fail(absl::StrFormat("rte_eth_dev_configure(%d rx, %d tx, rss_hf 0x%x, rx_offloads "
                                "0x%x, tx_offloads 0x%x)",
                                q, q, rss_hf_, rx_offloads_, tx_offloads_),
                rc);
  }
  configured_ = true;

  rx_ring_ = settings_.rx_ring;
  tx_ring_ = settings_.tx_ring;
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_id_, &rx_ring_, &tx_ring_); rc != 0) {
    return Fail("rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  }
  if (rx_ring_ != settings_.rx_ring || tx_ring_ != settings_.tx_ring) {
    DPX_LOG_INFO("%s: device adjusted rings to rx %d tx %d (asked %d/%d)", settings_.name,
                 rx_ring_, tx_ring_, settings_.rx_ring, settings_.tx_ring);
  }

  rte_eth_rxconf rxconf = info.default_rxconf;
  rxconf.offloads = rx_offloads_;
  rte_eth_txconf txconf = info.default_txconf;
  txconf.offloads = tx_offloads_;
  for (uint16_t i = 0; i < q; ++i) {
    if (int rc = rte_eth_rx_queue_setup(port_id_, i, rx_ring_, static_cast<unsigned>(socket_),
                                        &rxconf, settings_.pool);
        rc != 0) {
      return Fail(absl::StrFormat("rte_eth_rx_queue_setup(queue %d, %d descriptors)", i, rx_ring_),
                  rc);
    }
    if (int rc = rte_eth_tx_queue_setup(port_id_, i, tx_ring_, static_cast<unsigned>(socket_),
                                        &txconf);
        rc != 0) {
      return Fail(absl::StrFormat("rte_eth_tx_queue_setup(queue %d, %d descriptors)", i, tx_ring_),
                  rc);
    }
  }

  if (int rc = rte_eth_dev_set_mtu(port_id_, settings_.mtu); rc != 0) {
    if (rc != -ENOTSUP) return Fail(absl::StrFormat("rte_eth_dev_set_mtu(%d)", settings_.mtu), rc);
    DPX_LOG_WARN("%s: device cannot set the MTU; keeping its own", settings_.name);
  }
  if (int rc = rte_eth_dev_get_mtu(port_id_, &mtu_); rc != 0) {
    return Fail("rte_eth_dev_get_mtu", rc);
  }
  if (int rc = rte_eth_macaddr_get(port_id_, &mac_); rc != 0) {
    return Fail("rte_eth_macaddr_get", rc);
  }
  return absl::OkStatus();
}

absl::Status EthPort::GiveTapPeerItsOwnMac() {
  // net_tap copies the port's MAC onto the kernel netdev it creates. dpx is
  // a separate host on that link, so the kernel side needs an address of its
  // own or each side takes the other's frames for its own echoes.
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_id_, &info); rc != 0) {
    return Fail("rte_eth_dev_info_get", rc);
  }
  char ifname[IF_NAMESIZE] = {};
  if (info.if_index == 0 || if_indextoname(info.if_index, ifname) == nullptr) {
    return absl::NotFoundError(absl::StrFormat(
        "%s (%s): cannot find the TAP's kernel netdev (if_index %d)", settings_.name,
        settings_.ethdev_name, info.if_index));
  }
  rte_ether_addr peer = mac_;
  peer.addr_bytes[5] ^= 0x01;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrFormat("%s: socket: %s", settings_.name, strerror(errno)));
  }
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, ifname, std::min(sizeof(ifr.ifr_name) - 1, std::strlen(ifname)));
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memcpy(ifr.ifr_hwaddr.sa_data, peer.addr_bytes, RTE_ETHER_ADDR_LEN);
  const int rc = ioctl(fd, SIOCSIFHWADDR, &ifr);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    return absl::InternalError(absl::StrFormat("%s: SIOCSIFHWADDR on %s: %s", settings_.name,
                                               ifname, strerror(err)));
  }
  DPX_LOG_INFO("%s: TAP kernel side %s gets MAC %s (dpx keeps %s)", settings_.name, ifname,
               FormatMac(peer), mac_string());
  return absl::OkStatus();
}

absl::Status EthPort::Start() {
  if (int rc = rte_eth_dev_start(port_id_); rc != 0) return Fail("rte_eth_dev_start", rc);
  started_ = true;
  if (driver_name_ == "net_tap") {
    if (auto st = GiveTapPeerItsOwnMac(); !st.ok()) return st;
  }
  // The stack answers only its own MAC (and broadcast).
  if (int rc = rte_eth_promiscuous_disable(port_id_); rc != 0 && rc != -ENOTSUP) {
    return Fail("rte_eth_promiscuous_disable", rc);
  }
  return absl::OkStatus();
}

LinkInfo EthPort::RefreshLink() {
  LinkInfo li;
  rte_eth_link link{};
  if (int rc = rte_eth_link_get_nowait(port_id_, &link); rc != 0) {
    li.text = absl::StrCat("link unknown: ", Errno(rc));
    link_up_.store(false, std::memory_order_relaxed);
    return li;
  }
  li.up = link.link_status == RTE_ETH_LINK_UP;
  li.speed_mbps = link.link_speed;
  li.full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
  li.autoneg = link.link_autoneg == RTE_ETH_LINK_AUTONEG;
  // Same wording as rte_eth_link_to_str(), which is still experimental in 22.11.
  if (!li.up) {
    li.text = "Link down";
  } else {
    std::string speed;
    if (link.link_speed == RTE_ETH_SPEED_NUM_NONE) {
      speed = "None";
    } else if (link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN) {
      speed = "Unknown";
    } else if (link.link_speed >= 1000 && link.link_speed % 1000 == 0) {
      speed = absl::StrCat(link.link_speed / 1000, " Gbps");
    } else {
      speed = absl::StrCat(link.link_speed, " Mbps");
    }
    li.text = absl::StrFormat("Link up at %s %s %s", speed, li.full_duplex ? "FDX" : "HDX",
                              li.autoneg ? "Autoneg" : "Fixed");
  }
  link_up_.store(li.up, std::memory_order_relaxed);
  return li;
}

LinkInfo EthPort::WaitForLink(uint32_t timeout_ms) {
  constexpr uint32_t kStepMs = 100;
  LinkInfo li = RefreshLink();
  for (uint32_t waited = 0; !li.up && waited < timeout_ms; waited += kStepMs) {
    rte_delay_ms(kStepMs);
    li = RefreshLink();
  }
  return li;
}

absl::Status EthPort::Stop() {
  if (!started_) return absl::OkStatus();
  started_ = false;
  link_up_.store(false, std::memory_order_relaxed);
  if (int rc = rte_eth_dev_stop(port_id_); rc != 0) return Fail("rte_eth_dev_stop", rc);
  return absl::OkStatus();
}

void EthPort::Close() {
  if (closed_) return;
  if (started_) {
    if (auto st = Stop(); !st.ok()) DPX_LOG_WARN("%s", st.message());
  }
  closed_ = true;
  if (int rc = rte_eth_dev_close(port_id_); rc != 0) {
    DPX_LOG_WARN("%s (%s): rte_eth_dev_close: %s", settings_.name, settings_.ethdev_name,
                 Errno(rc));
  }
}

EthPort::~EthPort() { Close(); }

std::unique_ptr<PortQueue> EthPort::MakeQueue(unsigned core_index,
                                              uint16_t queues_per_core) const {
  return std::make_unique<PortQueue>(*this, static_cast<uint16_t>(core_index * queues_per_core),
                                     queues_per_core);
}

std::string EthPort::mac_string() const { return FormatMac(mac_); }

absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> EthPort::Xstats() const {
  const int n = rte_eth_xstats_get_names(port_id_, nullptr, 0);
  if (n < 0) return Fail("rte_eth_xstats_get_names", n);
  std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
  std::vector<rte_eth_xstat> values(static_cast<size_t>(n));
  if (int rc = rte_eth_xstats_get_names(port_id_, names.data(), static_cast<unsigned>(n));
      rc != n) {
    return Fail("rte_eth_xstats_get_names", rc < 0 ? rc : -EAGAIN);
  }
  if (int rc = rte_eth_xstats_get(port_id_, values.data(), static_cast<unsigned>(n)); rc != n) {
    return Fail("rte_eth_xstats_get", rc < 0 ? rc : -EAGAIN);
  }
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(static_cast<size_t>(n));
  for (const auto& v : values) {
    if (v.id < names.size()) out.emplace_back(names[v.id].name, v.value);
  }
  return out;
}

absl::StatusOr<rte_eth_stats> EthPort::Stats() const {
  rte_eth_stats st{};
  if (int rc = rte_eth_stats_get(port_id_, &st); rc != 0) return Fail("rte_eth_stats_get", rc);
  return st;
}

std::string EthPort::Describe() const {
  std::string rss;
  if (rss_enabled()) {
    const bool symmetric = rss_key_ == SymmetricRssKey(rss_key_.size());
    rss = absl::StrFormat("on (%s %d-byte key, hf 0x%x)", symmetric ? "symmetric" : "profile",
                          rss_key_.size(), rss_hf_);
  } else {
    rss = "off (device has no RSS)";
  }
  return absl::StrFormat(
      "%s: ethdev %s port_id %d driver %s socket %d mac %s mtu %d queues %d rx/%d tx rings "
      "%d/%d rss %s; rx offloads: %s (software: %s); tx offloads: %s (software: %s)",
      settings_.name, settings_.ethdev_name, port_id_, driver_name_, socket_, mac_string(), mtu_,
      queues(), queues(), rx_ring_, tx_ring_, rss, OffloadNames(rx_offloads_, true),
      OffloadNames(rx_offloads_software(), true), OffloadNames(tx_offloads_, false),
      OffloadNames(tx_offloads_software(), false));
}

PortQueue::PortQueue(const EthPort& port, uint16_t first_queue, uint16_t nqueues)
    : port_(port), port_id_(port.port_id()), first_(first_queue), nqueues_(nqueues) {}

uint16_t PortQueue::RxBurst(rte_mbuf** pkts, uint16_t n) {
  if (nqueues_ == 1) return rte_eth_rx_burst(port_id_, first_, pkts, n);
  // Several queues per core: fill from each in turn, starting where the
  // last call stopped so no queue starves.
  uint16_t got = 0;
  for (uint16_t i = 0; i < nqueues_ && got < n; ++i) {
    const uint16_t q = static_cast<uint16_t>(first_ + next_rx_);
    next_rx_ = static_cast<uint16_t>((next_rx_ + 1) % nqueues_);
    got = static_cast<uint16_t>(got + rte_eth_rx_burst(port_id_, q, pkts + got,
                                                       static_cast<uint16_t>(n - got)));
  }
  return got;
}

uint16_t PortQueue::TxBurst(rte_mbuf** pkts, uint16_t n) {
  return rte_eth_tx_burst(port_id_, first_, pkts, n);
}

}  // namespace dpx
