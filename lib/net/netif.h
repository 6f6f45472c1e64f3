// An Ethernet interface queue as the stack sees it: a DPDK ethdev queue in
// the appliance (lib/net/port.h), one end of the in-memory wire in tests
// (lib/net/wire.h). One Netif is used by one core only.
#pragma once

#include <cstdint>

#include <rte_ether.h>

struct rte_mbuf;

namespace dpx {

class Netif {
 public:
  virtual ~Netif() = default;
  // Receives up to `n` frames; the caller owns them.
  virtual uint16_t RxBurst(rte_mbuf** pkts, uint16_t n) = 0;
  // Sends up to `n` frames; takes ownership of those it returns as sent.
  virtual uint16_t TxBurst(rte_mbuf** pkts, uint16_t n) = 0;
  virtual rte_ether_addr mac() const = 0;
  virtual uint16_t mtu() const = 0;
  // RTE_ETH_TX_OFFLOAD_* bits the stack may ask for per mbuf (checksums);
  // 0 means compute everything in software.
  virtual uint64_t tx_offloads() const = 0;
  // RTE_ETH_RX_OFFLOAD_* bits in effect (checksum verification).
  virtual uint64_t rx_offloads() const = 0;
  virtual bool link_up() const = 0;
};

}  // namespace dpx
