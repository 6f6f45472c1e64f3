// IPv4 as L4 protocols see it: what a handler receives with each packet,
// what a sender passes with each packet, and the protocol constants.
#pragma once

#include <cstdint>
#include <functional>

#include <rte_ip.h>

struct rte_mbuf;

namespace dpx {

inline constexpr uint8_t kIpProtoIcmp = IPPROTO_ICMP;  // 1
inline constexpr uint8_t kIpProtoTcp = IPPROTO_TCP;    // 6
inline constexpr uint8_t kIpProtoUdp = IPPROTO_UDP;    // 17
inline constexpr uint16_t kIpv4MinHdrLen = sizeof(rte_ipv4_hdr);  // 20
inline constexpr uint16_t kIpv4MaxHdrLen = 60;
inline constexpr uint8_t kIpDefaultTtl = 64;  // net.ipv4.ip_default_ttl

// Handed to an L4 handler with each packet. The mbuf's data points at the
// L4 header and its pkt_len is exactly l4_len (Ethernet padding trimmed).
// The IPv4 header is still in the buffer right before it (m->l3_len bytes,
// Ethernet m->l2_len before that), which ICMP error generation relies on.
struct Ipv4Rx {
  uint32_t src;     // network order
  uint32_t dst;     // network order
  uint16_t l4_len;  // host order: IP total length - header length
  uint16_t id;      // host order
  uint8_t ttl;
  uint8_t tos;
  uint8_t proto;
  // Sent to the limited or subnet broadcast address, or in a link-level
  // broadcast frame (Linux RTCF_BROADCAST / PACKET_BROADCAST): TCP drops these.
  bool broadcast;
};

// What a sender asks of IpStack::SendIpv4.
struct Ipv4Tx {
  uint32_t dst = 0;   // network order
  uint32_t src = 0;   // network order; 0 = the stack's address
  uint8_t proto = 0;
  uint8_t ttl = kIpDefaultTtl;
  uint8_t tos = 0;
  // Linux sets DF on TCP (path MTU discovery, ip_dont_fragment()); with DF
  // the ID comes from the caller like Linux's per-socket inet_id
  // (ip_select_ident_segs); without DF the stack assigns one.
  bool df = true;
  uint16_t id = 0;
  // Fill the TCP/UDP checksum (offloaded when the Netif can, else software).
  // The L4 checksum field must be zero.
  bool l4_cksum = false;
};

enum class TxStatus : uint8_t {
  kQueued,   // in the tx buffer; goes out on the next Flush()
  kPending,  // waiting for ARP resolution of the next hop
  kDropped,  // freed and counted (no route, ARP failed/full, no headroom, too big)
};

// An L4 protocol's input. Owns `m` (must free or keep it).
using L4Handler = std::function<void(rte_mbuf* m, const Ipv4Rx& rx)>;

// An ICMP error (destination unreachable, time exceeded, parameter problem)
// about a packet we sent, delivered to the protocol that sent it (Linux
// tcp_v4_err / udp_err). Pointers are valid during the call only.
struct IcmpError {
  uint8_t type;
  uint8_t code;
  uint16_t mtu;        // host order: next-hop MTU for "fragmentation needed", else 0
  uint32_t from;       // network order: who sent the ICMP error
  const rte_ipv4_hdr* inner_ip;  // our packet's IPv4 header as quoted back
  const uint8_t* inner_l4;       // its first bytes of L4 header (ports, seq)
  uint16_t inner_l4_len;         // how many of those were quoted (>= 8)
};
using IcmpErrorHandler = std::function<void(const IcmpError& err)>;

}  // namespace dpx
