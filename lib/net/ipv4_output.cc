// IPv4 output (IpStack::SendIpv4): route, IPv4 header, checksums (offload
// or software), Ethernet, next-hop resolution, tx buffer.
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/reactor.h"
#include "net/checksum.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"

namespace dpx {

namespace {
// RFC 1112 6.4 (Linux ip_eth_mc_map).
rte_ether_addr MulticastMac(uint32_t group) {
  const uint32_t h = Ipv4ToHost(group);
  return rte_ether_addr{{0x01, 0x00, 0x5e, static_cast<uint8_t>((h >> 16) & 0x7f),
                         static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h)}};
}
}  // namespace

TxStatus IpStack::SendIpv4(rte_mbuf* m, const Ipv4Tx& tx) {
  auto drop = [&](Mib reason, Mib snmp) {
    mib_.Inc(reason);
    mib_.Inc(snmp);
    rte_pktmbuf_free(m);
    return TxStatus::kDropped;
  };
  uint32_t nexthop;
  if (!Route(tx.dst, &nexthop)) return drop(Mib::Drop_IP_OUTNOROUTES, Mib::Ip_OutNoRoutes);
  const uint32_t tot = rte_pktmbuf_pkt_len(m) + kIpv4MinHdrLen;
  // dpx never fragments; callers size segments to the MTU (Linux would
  // fail with EMSGSIZE for DF, or fragment in ip_fragment).
  if (tot > mtu_) return drop(Mib::Drop_PKT_TOO_BIG, Mib::Ip_FragFails);
  if (rte_pktmbuf_headroom(m) < kIpv4MinHdrLen + kEthHdrLen)
    return drop(Mib::Drop_NOMEM, Mib::Ip_OutDiscards);

  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(rte_pktmbuf_prepend(m, kIpv4MinHdrLen));
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = tx.tos;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(tot));
  ip->packet_id = rte_cpu_to_be_16(tx.df ? tx.id : next_id_++);
  ip->fragment_offset = tx.df ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
  ip->time_to_live = tx.ttl;
  ip->next_proto_id = tx.proto;
  ip->hdr_checksum = 0;
  ip->src_addr = tx.src != 0 ? tx.src : cfg_.ip;
  ip->dst_addr = tx.dst;

  rte_ether_addr dst_mac = kZeroMac;  // filled by ARP for unicast
  const bool bcast = IsBroadcast(nexthop);
  if (bcast) dst_mac = kBroadcastMac;
  else if (Ipv4IsMulticast(nexthop)) dst_mac = MulticastMac(nexthop);
  EthPrepend(m, mac_, dst_mac, kEtherTypeIpv4);
  m->l2_len = kEthHdrLen;
  m->l3_len = kIpv4MinHdrLen;

  // Offload flags are cleared first: an mbuf may be a reused rx buffer.
  m->ol_flags &= (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT);
  if (tx_offloads_ & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
    m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
  } else {
    ip->hdr_checksum = Ipv4HeaderCksum(ip);
  }
  if (tx.l4_cksum) FillL4Cksum(m, ip, tx_offloads_);

  mib_.Inc(Mib::Ip_OutRequests);
  mib_.Inc(Mib::IpExt_OutOctets, tot);
  if (bcast || Ipv4IsMulticast(nexthop)) {
    tx_.Push(m);
    return TxStatus::kQueued;
  }
  return arp_.Output(nexthop, m);
}

}  // namespace dpx
