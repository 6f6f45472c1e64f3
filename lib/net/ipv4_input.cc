// IPv4 input (IpStack::InputIpv4): every header field validated in the
// order Linux ip_rcv_core / ip_rcv_finish / ip_local_deliver checks them,
// each rejection counted, then dispatch to the L4 handler.
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/reactor.h"
#include "net/checksum.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"

namespace dpx {

namespace {

// Makes the first `len` bytes contiguous in the first segment.
bool MakeContiguous(rte_mbuf* m, uint32_t len) {
  if (rte_pktmbuf_data_len(m) >= len) return true;
  return rte_pktmbuf_linearize(m) == 0 && rte_pktmbuf_data_len(m) >= len;
}

// Cuts `m` to `len` bytes, chains included (Linux pskb_trim).
void TrimTo(rte_mbuf* m, uint32_t len) {
  const uint32_t extra = rte_pktmbuf_pkt_len(m) - len;
  if (extra <= UINT16_MAX && rte_pktmbuf_trim(m, static_cast<uint16_t>(extra)) == 0) return;
  uint32_t remain = len;
  uint16_t segs = 0;
  rte_mbuf* seg = m;
  rte_mbuf* last = nullptr;
  while (seg != nullptr && remain > 0) {
    if (seg->data_len > remain) seg->data_len = static_cast<uint16_t>(remain);
    remain -= seg->data_len;
    ++segs;
    last = seg;
    seg = seg->next;
  }
  if (last != nullptr && last->next != nullptr) {
    rte_pktmbuf_free(last->next);
    last->next = nullptr;
  }
  m->nb_segs = segs;
  m->pkt_len = len;
}

enum class OptVerdict { kOk, kMalformed, kSourceRoute };

// Walks the options like Linux ip_options_compile (structure only: dpx
// acts on none of them).
OptVerdict CheckOptions(const uint8_t* opt, uint32_t len) {
  uint32_t i = 0;
  while (i < len) {
    const uint8_t type = opt[i];
    if (type == 0) break;  // end of list
    if (type == 1) {       // no-op
      ++i;
      continue;
    }
    if (i + 1 >= len) return OptVerdict::kMalformed;
    const uint8_t olen = opt[i + 1];
    if (olen < 2 || i + olen > len) return OptVerdict::kMalformed;
    // Loose / strict source route: Linux drops them unless
    // accept_source_route (default 0), in ip_rcv_options.
    if (type == 131 || type == 137) return OptVerdict::kSourceRoute;
    i += olen;
  }
  return OptVerdict::kOk;
}

}  // namespace

void IpStack::InputIpv4(rte_mbuf* m, PktType pkt_type) {
  const uint32_t len = rte_pktmbuf_pkt_len(m);
  mib_.Inc(Mib::Ip_InReceives);
  mib_.Inc(Mib::IpExt_InOctets, len);

  auto drop = [&](Mib reason, Mib snmp) {
    mib_.Inc(reason);
    if (snmp != Mib::kCount) mib_.Inc(snmp);
    rte_pktmbuf_free(m);
  };
  constexpr Mib kNone = Mib::kCount;

  if (len < kIpv4MinHdrLen) return drop(Mib::Drop_PKT_TOO_SMALL, Mib::Ip_InHdrErrors);
  if (!MakeContiguous(m, kIpv4MinHdrLen)) return drop(Mib::Drop_NOMEM, Mib::Ip_InDiscards);
  auto* ip = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
  if ((ip->version_ihl >> 4) != 4) return drop(Mib::Drop_IP_VERSION, Mib::Ip_InHdrErrors);
  const uint32_t ihl = static_cast<uint32_t>(ip->version_ihl & 0x0f) * 4;
  if (ihl < kIpv4MinHdrLen || ihl > len) return drop(Mib::Drop_IP_IHL, Mib::Ip_InHdrErrors);
  if (!MakeContiguous(m, ihl)) return drop(Mib::Drop_NOMEM, Mib::Ip_InDiscards);
  ip = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);

  // The NIC's verdict when it checked; software otherwise.
  bool csum_ok;
  switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
    case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
    case RTE_MBUF_F_RX_IP_CKSUM_NONE:
      csum_ok = true;
      break;
    case RTE_MBUF_F_RX_IP_CKSUM_BAD:
      csum_ok = false;
      break;
    default:
      csum_ok = Ipv4HeaderCksumOk(ip, static_cast<uint16_t>(ihl));
  }
  if (!csum_ok) {
    mib_.Inc(Mib::IpExt_InCsumErrors);
    return drop(Mib::Drop_IP_CSUM, Mib::Ip_InHdrErrors);
  }

  const uint32_t tot = rte_be_to_cpu_16(ip->total_length);
  if (tot > len) return drop(Mib::Drop_IP_TRUNCATED, Mib::IpExt_InTruncatedPkts);
  if (tot < ihl) return drop(Mib::Drop_IP_TOTLEN, Mib::Ip_InHdrErrors);
  // Ethernet pads short frames to 60 bytes: trim to the IP length
  // (Linux pskb_trim_rcsum).
  if (len > tot) TrimTo(m, tot);

  const uint32_t src = ip->src_addr;
  const uint32_t dst = ip->dst_addr;

  // Martian sources (Linux ip_route_input_slow / fib_validate_source):
  // multicast, broadcast, loopback, 0/8 (0.0.0.0 only toward the limited
  // broadcast, for DHCP), and our own address.
  const bool zero_ok = src == 0 && dst == kIpv4Broadcast;
  if (Ipv4IsMulticast(src) || src == kIpv4Broadcast || Ipv4IsLoopback(src) ||
      (Ipv4IsZeronet(src) && !zero_ok) || src == cfg_.ip || IsBroadcast(src))
    return drop(Mib::Drop_IP_INVALID_SOURCE, kNone);

  // Local delivery only: dpx does not forward (Linux with ip_forward=0
  // counts InAddrErrors in ip_error and sends nothing).
  const bool bcast = IsBroadcast(dst);
  if (dst != cfg_.ip && !bcast)
    return drop(Mib::Drop_IP_INADDRERRORS, Mib::Ip_InAddrErrors);

  if (ihl > kIpv4MinHdrLen) {
    switch (CheckOptions(reinterpret_cast<const uint8_t*>(ip + 1), ihl - kIpv4MinHdrLen)) {
      case OptVerdict::kOk:
        break;
      case OptVerdict::kMalformed:
        return drop(Mib::Drop_IP_OPTIONS, Mib::Ip_InHdrErrors);
      case OptVerdict::kSourceRoute:
        return drop(Mib::Drop_IP_SOURCE_ROUTE, kNone);
    }
  }

  // Linux checks TTL only when forwarding (ip_forward), never on local
  // delivery; dpx drops TTL 0 as a header error all the same, since no
  // sender may emit one (RFC 1122 3.2.1.7).
  if (ip->time_to_live == 0) return drop(Mib::Drop_IP_TTL, Mib::Ip_InHdrErrors);

  // No reassembly: every fragment is dropped (Linux would ip_defrag).
  if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
    mib_.Inc(Mib::Ip_ReasmReqds);
    return drop(Mib::Drop_IP_FRAGMENT, Mib::Ip_ReasmFails);
  }

  const Ipv4Rx rx{src,
                  dst,
                  static_cast<uint16_t>(tot - ihl),
                  rte_be_to_cpu_16(ip->packet_id),
                  ip->time_to_live,
                  ip->type_of_service,
                  ip->next_proto_id,
                  bcast || pkt_type != PktType::kHost};
  m->l3_len = static_cast<uint16_t>(ihl);
  rte_pktmbuf_adj(m, static_cast<uint16_t>(ihl));
  Deliver(m, rx);
}

// Linux ip_protocol_deliver_rcu.
void IpStack::Deliver(rte_mbuf* m, const Ipv4Rx& rx) {
  L4Handler& h = handlers_[rx.proto];
  if (h) {
    mib_.Inc(Mib::Ip_InDelivers);
    h(m, rx);
    return;
  }
  mib_.Inc(Mib::Ip_InUnknownProtos);
  mib_.Inc(Mib::Drop_IP_NOPROTO);
  icmp_.SendDestUnreach(m, kIcmpProtUnreach);
  rte_pktmbuf_free(m);
}

}  // namespace dpx
