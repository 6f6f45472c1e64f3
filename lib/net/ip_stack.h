// The per-core IPv4 stack: one Netif queue, one address, ARP, IPv4 in and
// out, ICMP, and the dispatch to L4 protocols (TCP registers itself).
//
//   Reactor reactor(core, &clock, &mib);
//   IpStack stack(reactor, netif, pool, {.ip = Ipv4Addr(10,0,0,1),
//                                        .prefix_len = 24,
//                                        .gateway = Ipv4Addr(10,0,0,254)});
//   stack.AttachToReactor();   // Poll() as a poller, Flush() as a flusher
//   stack.Start();             // gratuitous ARP, resolve the gateway
//
// Single-threaded: every call comes from the owning core. The stack must
// outlive the reactor's use of it (the reactor cannot unregister pollers).
#pragma once

#include <array>
#include <cstdint>

#include <rte_ether.h>

#include "core/counters.h"
#include "net/arp.h"
#include "net/ethernet.h"
#include "net/icmp.h"
#include "net/ipv4.h"
#include "net/netif.h"
#include "net/tx_buffer.h"

struct rte_mbuf;
struct rte_mempool;

namespace dpx {

class Reactor;

struct IpStackConfig {
  uint32_t ip = 0;          // network order
  uint8_t prefix_len = 24;  // connected subnet
  uint32_t gateway = 0;     // network order; 0 = no default route
  ArpConfig arp;
  IcmpConfig icmp;
  uint16_t tx_buffer = 512;  // frames held between flushes
  uint16_t rx_burst = 32;
};

class IpStack {
 public:
  // Counters go to reactor.mib(); timers to reactor.timers(); `pool`
  // supplies the mbufs the stack creates (ARP, ICMP).
  IpStack(Reactor& reactor, Netif& netif, rte_mempool* pool, const IpStackConfig& config);
  ~IpStack();
  IpStack(const IpStack&) = delete;
  IpStack& operator=(const IpStack&) = delete;

  // Registers Poll() as a reactor poller and Flush() as a flusher.
  void AttachToReactor();
  // Gratuitous ARP, then resolution of the gateway (if any).
  void Start();
  // One rx burst, each frame handled to completion; returns frames received.
  unsigned Poll();
  // Sends the frames queued this iteration (tx_burst).
  void Flush();
  // Handles one received Ethernet frame (what Poll does per frame). Owns it.
  void Input(rte_mbuf* frame);

  // L4 protocol `proto` receives its packets through `handler`. Replaces
  // any earlier one; ICMP is registered by the stack itself.
  void RegisterProtocol(uint8_t proto, L4Handler handler);
  // ICMP errors about packets of `proto` go to `handler`.
  void RegisterIcmpErrorHandler(uint8_t proto, IcmpErrorHandler handler);

  // Sends an IPv4 packet: `m`'s data points at the L4 header (headroom for
  // IPv4 + Ethernet, i.e. >= 34 bytes: any mbuf from rte_pktmbuf_alloc).
  // Routes, prepends IPv4 and Ethernet, resolves the next hop through ARP.
  // Always takes ownership of `m`.
  TxStatus SendIpv4(rte_mbuf* m, const Ipv4Tx& tx);
  // Sends a complete Ethernet frame as is (queued for the next Flush).
  void SendFrame(rte_mbuf* frame) { tx_.Push(frame); }

  // Next hop toward `dst`: `dst` itself on the connected subnet (or the
  // limited broadcast), else the gateway. False when there is no route.
  bool Route(uint32_t dst, uint32_t* nexthop) const;
  // True for our address (what we accept as a unicast destination).
  bool IsLocalAddress(uint32_t ip) const { return ip == cfg_.ip; }
  // Limited broadcast or the connected subnet's broadcast.
  bool IsBroadcast(uint32_t ip) const;

  ArpTable& arp() { return arp_; }
  const ArpTable& arp() const { return arp_; }
  Icmp& icmp() { return icmp_; }
  Reactor& reactor() { return reactor_; }
  Netif& netif() { return netif_; }
  Counters& mib() { return mib_; }
  rte_mempool* pool() { return pool_; }
  const IpStackConfig& config() const { return cfg_; }
  uint32_t ip() const { return cfg_.ip; }
  const rte_ether_addr& mac() const { return mac_; }
  uint16_t mtu() const { return mtu_; }

 private:
  void InputIpv4(rte_mbuf* m, PktType pkt_type);  // ipv4_input.cc
  void Deliver(rte_mbuf* m, const Ipv4Rx& rx);     // ipv4_input.cc

  Reactor& reactor_;
  Netif& netif_;
  rte_mempool* pool_;
  IpStackConfig cfg_;
  Counters& mib_;
  rte_ether_addr mac_;
  uint16_t mtu_;
  uint32_t netmask_;
  uint32_t subnet_bcast_;
  uint16_t next_id_ = 0;  // IPv4 ID for packets without DF
  uint64_t tx_offloads_;
  TxBuffer tx_;
  ArpTable arp_;
  Icmp icmp_;
  std::array<L4Handler, 256> handlers_;
};

}  // namespace dpx
