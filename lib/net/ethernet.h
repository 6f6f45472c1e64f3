// Ethernet II framing: parse, build, MAC helpers. Frames are rte_mbufs with
// the Ethernet header at the data pointer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <rte_ether.h>

struct rte_mbuf;

namespace dpx {

inline constexpr rte_ether_addr kBroadcastMac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
inline constexpr rte_ether_addr kZeroMac = {{0, 0, 0, 0, 0, 0}};
inline constexpr uint16_t kEthHdrLen = sizeof(rte_ether_hdr);  // 14
inline constexpr uint16_t kEtherTypeIpv4 = RTE_ETHER_TYPE_IPV4;  // host order
inline constexpr uint16_t kEtherTypeArp = RTE_ETHER_TYPE_ARP;

inline bool MacEqual(const rte_ether_addr& a, const rte_ether_addr& b) {
  return rte_is_same_ether_addr(&a, &b) != 0;
}

// How a received frame was addressed, like Linux skb->pkt_type.
enum class PktType : uint8_t { kHost, kBroadcast, kMulticast, kOtherHost };

struct EthRx {
  uint16_t ether_type;  // host order
  PktType pkt_type;
  rte_ether_addr src;
};

// Parses the Ethernet header of `m` against our MAC and strips it (data
// then points at the L3 header; m->l2_len is set). False when the frame is
// shorter than an Ethernet header (nothing is changed then).
bool EthParse(rte_mbuf* m, const rte_ether_addr& our_mac, EthRx* out);

// Prepends an Ethernet header; returns it, or nullptr when headroom is short.
rte_ether_hdr* EthPrepend(rte_mbuf* m, const rte_ether_addr& src, const rte_ether_addr& dst,
                          uint16_t ether_type);

// "02:00:00:00:00:01".
std::string FormatMac(const rte_ether_addr& mac);
bool ParseMac(std::string_view text, rte_ether_addr* out);

}  // namespace dpx
