#include "net/ethernet.h"

#include <rte_mbuf.h>

#include "absl/strings/str_format.h"

namespace dpx {

bool EthParse(rte_mbuf* m, const rte_ether_addr& our_mac, EthRx* out) {
  if (rte_pktmbuf_data_len(m) < kEthHdrLen) return false;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  out->ether_type = rte_be_to_cpu_16(eth->ether_type);
  out->src = eth->src_addr;
  if (MacEqual(eth->dst_addr, our_mac)) {
    out->pkt_type = PktType::kHost;
  } else if (rte_is_broadcast_ether_addr(&eth->dst_addr)) {
    out->pkt_type = PktType::kBroadcast;
  } else if (rte_is_multicast_ether_addr(&eth->dst_addr)) {
    out->pkt_type = PktType::kMulticast;
  } else {
    out->pkt_type = PktType::kOtherHost;
  }
  rte_pktmbuf_adj(m, kEthHdrLen);
  m->l2_len = kEthHdrLen;
  return true;
}

rte_ether_hdr* EthPrepend(rte_mbuf* m, const rte_ether_addr& src, const rte_ether_addr& dst,
                          uint16_t ether_type) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, kEthHdrLen));
  if (eth == nullptr) return nullptr;
  eth->dst_addr = dst;
  eth->src_addr = src;
  eth->ether_type = rte_cpu_to_be_16(ether_type);
  m->l2_len = kEthHdrLen;
  return eth;
}

std::string FormatMac(const rte_ether_addr& mac) {
  const uint8_t* b = mac.addr_bytes;
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

bool ParseMac(std::string_view text, rte_ether_addr* out) {
  if (text.size() != 17) return false;
  rte_ether_addr mac;
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return false;
    uint8_t v = 0;
    for (int j = 0; j < 2; ++j) {
      const char c = text[i * 3 + j];
      uint8_t d;
      if (c >= '0' && c <= '9') d = static_cast<uint8_t>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<uint8_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<uint8_t>(c - 'A' + 10);
      else return false;
      v = static_cast<uint8_t>(v * 16 + d);
    }
    mac.addr_bytes[i] = v;
  }
  *out = mac;
  return true;
}

}  // namespace dpx
