#include "net/checksum.h"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include <rte_ethdev.h>
#include <rte_tcp.h>
#include <rte_udp.h>

namespace dpx {

namespace {
uint16_t Fold(uint32_t sum) {
  sum = (sum >> 16) + (sum & 0xffff);
  sum = (sum >> 16) + (sum & 0xffff);
  return static_cast<uint16_t>(sum);
}
}  // namespace

// Not rte_raw_cksum_mbuf: DPDK 22.11's byte-swaps a segment's unreduced
// 32-bit sum after an odd-length segment and gets it wrong.
bool RawCksumMbuf(const rte_mbuf* m, uint32_t off, uint32_t len, uint16_t* sum) {
  if (static_cast<uint64_t>(off) + len > rte_pktmbuf_pkt_len(m)) return false;
  const rte_mbuf* seg = m;
  while (seg != nullptr && off >= seg->data_len) {
    off -= seg->data_len;
    seg = seg->next;
  }
  uint32_t total = 0;
  uint32_t done = 0;
  while (done < len && seg != nullptr) {
    const uint32_t n = std::min<uint32_t>(seg->data_len - off, len - done);
    uint16_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), n);
    // A part starting at an odd position has its bytes in swapped lanes.
    if (done & 1) part = static_cast<uint16_t>((part << 8) | (part >> 8));
    total += part;
    done += n;
    off = 0;
    seg = seg->next;
  }
  if (done != len) return false;
  *sum = Fold(total);
  return true;
}

uint16_t InetCksumMbuf(const rte_mbuf* m, uint32_t off, uint32_t len) {
  uint16_t sum = 0;
  if (!RawCksumMbuf(m, off, len, &sum)) return 0;
  return static_cast<uint16_t>(~sum);
}

bool InetCksumMbufOk(const rte_mbuf* m, uint32_t off, uint32_t len) {
  uint16_t sum = 0;
  return RawCksumMbuf(m, off, len, &sum) && sum == 0xffff;
}

uint16_t Ipv4PseudoCksum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len) {
  // Summed in network byte order words, like rte_ipv4_phdr_cksum.
  uint32_t sum = (src & 0xffff) + (src >> 16) + (dst & 0xffff) + (dst >> 16);
  sum += rte_cpu_to_be_16(static_cast<uint16_t>(proto));
  sum += rte_cpu_to_be_16(l4_len);
  return Fold(sum);
}

uint16_t Ipv4L4Cksum(const rte_mbuf* m, uint32_t l4_off, uint32_t src, uint32_t dst,
                     uint8_t proto, uint16_t l4_len) {
  uint16_t raw = 0;
  if (!RawCksumMbuf(m, l4_off, l4_len, &raw)) return 0;
  uint16_t c = static_cast<uint16_t>(~Fold(uint32_t{raw} + Ipv4PseudoCksum(src, dst, proto, l4_len)));
  if (c == 0 && proto == IPPROTO_UDP) c = 0xffff;  // RFC 768: 0 means "no checksum"
  return c;
}

bool Ipv4L4CksumOk(const rte_mbuf* m, uint32_t l4_off, uint32_t src, uint32_t dst, uint8_t proto,
                   uint16_t l4_len) {
  uint16_t raw = 0;
  if (!RawCksumMbuf(m, l4_off, l4_len, &raw)) return false;
  return Fold(uint32_t{raw} + Ipv4PseudoCksum(src, dst, proto, l4_len)) == 0xffff;
}

bool L4CksumValid(const rte_mbuf* m, uint32_t src, uint32_t dst, uint8_t proto) {
  switch (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
    case RTE_MBUF_F_RX_L4_CKSUM_GOOD:
      return true;
    case RTE_MBUF_F_RX_L4_CKSUM_BAD:
      return false;
    default:  // UNKNOWN, or NONE (valid data, checksum not verified)
      return Ipv4L4CksumOk(m, 0, src, dst, proto, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m)));
  }
}

bool FillL4Cksum(rte_mbuf* m, rte_ipv4_hdr* ip, uint64_t tx_offloads) {
  const uint32_t l4_off = m->l2_len + m->l3_len;
  uint32_t field_off;  // checksum field inside the L4 header
  uint64_t need, flag;
  if (ip->next_proto_id == IPPROTO_TCP) {
    field_off = offsetof(rte_tcp_hdr, cksum);
    need = RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    flag = RTE_MBUF_F_TX_TCP_CKSUM;
  } else if (ip->next_proto_id == IPPROTO_UDP) {
    field_off = offsetof(rte_udp_hdr, dgram_cksum);
    need = RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
    flag = RTE_MBUF_F_TX_UDP_CKSUM;
  } else {
    return false;
  }
  if (rte_pktmbuf_data_len(m) < l4_off + field_off + 2) return false;
  uint8_t* field = rte_pktmbuf_mtod_offset(m, uint8_t*, l4_off + field_off);
  uint16_t value = 0;
  std::memcpy(field, &value, 2);
  if (tx_offloads & need) {
    m->ol_flags |= flag | RTE_MBUF_F_TX_IPV4;
    value = rte_ipv4_phdr_cksum(ip, m->ol_flags);
  } else {
    const uint16_t l4_len =
        static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - m->l3_len);
    value = Ipv4L4Cksum(m, l4_off, ip->src_addr, ip->dst_addr, ip->next_proto_id, l4_len);
  }
  std::memcpy(field, &value, 2);
  return true;
}

}  // namespace dpx
