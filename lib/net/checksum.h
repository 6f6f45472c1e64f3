// Internet checksums (RFC 1071) for IPv4, ICMP and the TCP/UDP pseudo
// header, in software or through the NIC's offload flags. All checksum
// values are as they sit in the header (network order bytes).
#pragma once

#include <cstdint>

#include <rte_ip.h>
#include <rte_mbuf.h>

namespace dpx {

// Software IPv4 header checksum (options included) to store; the header's
// checksum field must be zero.
inline uint16_t Ipv4HeaderCksum(const rte_ipv4_hdr* ip) { return rte_ipv4_cksum(ip); }

// True when the header (with its checksum field) sums to all ones.
inline bool Ipv4HeaderCksumOk(const rte_ipv4_hdr* ip, uint16_t hdr_len) {
  return rte_raw_cksum(ip, hdr_len) == 0xffff;
}

// One's complement sum of `len` bytes at `off` in `m` (any number of
// segments), folded, not complemented. Returns false if out of range.
bool RawCksumMbuf(const rte_mbuf* m, uint32_t off, uint32_t len, uint16_t* sum);

// Checksum to store for a message with no pseudo header (ICMP): computed
// with the message's checksum field zero.
uint16_t InetCksumMbuf(const rte_mbuf* m, uint32_t off, uint32_t len);
// Verifies such a message (checksum field included): sums to all ones.
bool InetCksumMbufOk(const rte_mbuf* m, uint32_t off, uint32_t len);

// Folded, NOT complemented pseudo-header sum for TCP/UDP over IPv4
// (src, dst network order; l4_len host order). This is what a NIC doing
// L4 checksum offload wants in the checksum field (cf. rte_ipv4_phdr_cksum).
uint16_t Ipv4PseudoCksum(uint32_t src, uint32_t dst, uint8_t proto, uint16_t l4_len);

// Software TCP/UDP checksum to store for the L4 segment at `l4_off`..end
// of `m` (checksum field must be zero). UDP's 0 result is sent as 0xffff.
uint16_t Ipv4L4Cksum(const rte_mbuf* m, uint32_t l4_off, uint32_t src, uint32_t dst,
                     uint8_t proto, uint16_t l4_len);
// Verifies a received TCP/UDP segment (checksum field included).
bool Ipv4L4CksumOk(const rte_mbuf* m, uint32_t l4_off, uint32_t src, uint32_t dst, uint8_t proto,
                   uint16_t l4_len);

// Input verification of a TCP/UDP segment that honours the NIC's verdict
// (RTE_MBUF_F_RX_L4_CKSUM_GOOD/BAD) and falls back to software. `m`'s data
// points at the L4 header and runs to the end of the segment.
bool L4CksumValid(const rte_mbuf* m, uint32_t src, uint32_t dst, uint8_t proto);

// Output: fills the TCP or UDP checksum of an IPv4 packet. `ip` is the
// packet's IPv4 header inside `m`, the L4 header starts m->l2_len +
// m->l3_len bytes into `m`. When `tx_offloads` has RTE_ETH_TX_OFFLOAD_
// TCP_CKSUM / UDP_CKSUM it sets RTE_MBUF_F_TX_*_CKSUM and stores the pseudo
// header sum; otherwise it computes the full checksum in software.
// Returns false for a protocol other than TCP/UDP.
bool FillL4Cksum(rte_mbuf* m, rte_ipv4_hdr* ip, uint64_t tx_offloads);

}  // namespace dpx
