// The port abstraction over rte_ethdev: one EthPort per device, one
// PortQueue (a Netif) per core.
//
//   EthPort::Open()   finds the probed ethdev by name, configures N rx/tx
//                     queues (N = cores x queues per core), RSS with a
//                     symmetric Toeplitz key where the device supports RSS,
//                     the checksum offloads the device reports (the rest are
//                     left to software), the MTU, and promiscuous mode off.
//   Start()           starts it; WaitForLink() polls link state briefly.
//                     For net_tap, the kernel netdev gets a MAC of its own
//                     (the PMD copies the port's MAC onto it, and dpx is a
//                     separate host on that link).
//   MakeQueue(core)   the Netif a core's stack uses; only that core calls it.
//   Xstats()/Stats()  counters, readable from any thread.
//   Stop()/Close()    in that order; the destructor does both if needed.
//
// Every failing DPDK call becomes an absl::Status naming the port, the call
// and rte_strerror(), e.g. "port0 (net_tap0): rte_eth_dev_configure: Invalid
// argument".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rte_ethdev.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/netif.h"

struct rte_mempool;

namespace dpx {

struct PortProfile;
struct Profile;

// What EthPort::Open needs; FromProfile() fills it from a validated profile.
struct PortSettings {
  std::string name;            // "port0", for logs
  std::string ethdev_name;     // "net_tap0" or "0000:3b:00.0"
  uint16_t queues = 1;         // rx = tx queues
  uint16_t rx_ring = 1024;
  uint16_t tx_ring = 1024;
  std::vector<uint8_t> rss_key;  // empty: symmetric key sized for the device
  uint64_t rx_offloads = 0;    // requested RTE_ETH_RX_OFFLOAD_* bits
  uint64_t tx_offloads = 0;    // requested RTE_ETH_TX_OFFLOAD_* bits
  uint16_t mtu = 1500;
  rte_mempool* pool = nullptr;  // rx buffers come from here

  static PortSettings FromProfile(const Profile& p, const PortProfile& port, rte_mempool* pool);
};

struct LinkInfo {
  bool up = false;
  uint32_t speed_mbps = 0;
  bool full_duplex = false;
  bool autoneg = false;
  std::string text;  // rte_eth_link_to_str(): "Link up at 10 Gbps FDX Autoneg"
};

class PortQueue;
struct Profile;

// rte_eal_init with the profile's EAL argv (EalArgv), logged; an error
// names the argv. Once per process.
absl::Status InitEal(const Profile& profile, const std::string& argv0);

class EthPort {
 public:
  // Mbuf pool sized for `mtu` (data room for one full frame per mbuf) on
  // `socket` (SOCKET_ID_ANY allowed). `name` must be unique in the process.
  static absl::StatusOr<rte_mempool*> CreatePool(const std::string& name, uint32_t mbufs,
                                                 uint16_t mtu, int socket);

  // The ethdev must already be probed (by EAL from --vdev / -a).
  static absl::StatusOr<std::unique_ptr<EthPort>> Open(const PortSettings& s);
  ~EthPort();
  EthPort(const EthPort&) = delete;
  EthPort& operator=(const EthPort&) = delete;

  absl::Status Start();
  // Polls the link until it is up or `timeout_ms` passes; returns the last state.
  LinkInfo WaitForLink(uint32_t timeout_ms);
  // Reads the link now (does not block) and updates link_up().
  LinkInfo RefreshLink();
  absl::Status Stop();
  void Close();

  // The Netif for `core_index` (0..cores-1): rx from its queues
  // [core_index * qpc, +qpc), tx on the first of them.
  std::unique_ptr<PortQueue> MakeQueue(unsigned core_index, uint16_t queues_per_core) const;

  uint16_t port_id() const { return port_id_; }
  const std::string& name() const { return settings_.name; }
  const std::string& ethdev_name() const { return settings_.ethdev_name; }
  const std::string& driver_name() const { return driver_name_; }
  int socket() const { return socket_; }
  const rte_ether_addr& mac() const { return mac_; }
  std::string mac_string() const;
  uint16_t mtu() const { return mtu_; }
  uint16_t queues() const { return settings_.queues; }
  uint16_t rx_ring() const { return rx_ring_; }
  uint16_t tx_ring() const { return tx_ring_; }
  // Offloads in effect, and those requested but done in software because the
  // device does not report them.
  uint64_t rx_offloads() const { return rx_offloads_; }
  uint64_t tx_offloads() const { return tx_offloads_; }
  uint64_t rx_offloads_software() const { return settings_.rx_offloads & ~rx_offloads_; }
  uint64_t tx_offloads_software() const { return settings_.tx_offloads & ~tx_offloads_; }
  bool rss_enabled() const { return rss_hf_ != 0; }
  uint64_t rss_hf() const { return rss_hf_; }
  const std::vector<uint8_t>& rss_key() const { return rss_key_; }
  bool started() const { return started_; }
  bool link_up() const { return link_up_.load(std::memory_order_relaxed); }

  // Extended stats, names and values (rte_eth_xstats_get[_names]).
  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> Xstats() const;
  absl::StatusOr<rte_eth_stats> Stats() const;

  // One-line facts for the startup log.
  std::string Describe() const;

 private:
  EthPort(const PortSettings& s, uint16_t port_id) : settings_(s), port_id_(port_id) {}
  absl::Status Configure();
  // net_tap only: gives the kernel netdev a MAC different from the port's.
  absl::Status GiveTapPeerItsOwnMac();
  absl::Status Fail(std::string_view call, int rc) const;

  PortSettings settings_;
  uint16_t port_id_;
  std::string driver_name_;
  int socket_ = SOCKET_ID_ANY;
  rte_ether_addr mac_{};
  uint16_t mtu_ = 0;
  uint16_t rx_ring_ = 0;
  uint16_t tx_ring_ = 0;
  uint64_t rx_offloads_ = 0;
  uint64_t tx_offloads_ = 0;
  uint64_t rss_hf_ = 0;
  std::vector<uint8_t> rss_key_;
  bool configured_ = false;
  bool started_ = false;
  bool closed_ = false;
  std::atomic<bool> link_up_{false};
};

// Names of the offload bits set in `bits` ("tx_ipv4_cksum tx_tcp_cksum"),
// "none" when empty.
std::string OffloadNames(uint64_t bits, bool rx);

// One (port, queue range) pair as a Netif, used by one core only.
class PortQueue final : public Netif {
 public:
  PortQueue(const EthPort& port, uint16_t first_queue, uint16_t nqueues);

  uint16_t RxBurst(rte_mbuf** pkts, uint16_t n) override;
  uint16_t TxBurst(rte_mbuf** pkts, uint16_t n) override;
  rte_ether_addr mac() const override { return port_.mac(); }
  uint16_t mtu() const override { return port_.mtu(); }
  uint64_t tx_offloads() const override { return port_.tx_offloads(); }
  uint64_t rx_offloads() const override { return port_.rx_offloads(); }
  bool link_up() const override { return port_.link_up(); }

  uint16_t port_id() const { return port_id_; }
  uint16_t first_queue() const { return first_; }
  uint16_t nqueues() const { return nqueues_; }

 private:
  const EthPort& port_;
  uint16_t port_id_;
  uint16_t first_;
  uint16_t nqueues_;
  uint16_t next_rx_ = 0;  // round-robin over the core's rx queues
};

}  // namespace dpx
