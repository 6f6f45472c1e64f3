// The TCP header on the wire: DPDK's rte_tcp_hdr with host-order accessors,
// flag bits with Linux's names (TCPHDR_*) and the data offset.
#pragma once

#include <rte_byteorder.h>
#include <rte_tcp.h>

#include <cstddef>
#include <cstdint>

namespace dpx::tcp {

using TcpHeader = rte_tcp_hdr;
static_assert(sizeof(TcpHeader) == 20, "TCP header without options is 20 bytes");

inline constexpr size_t kTcpHeaderMinLen = 20;
inline constexpr size_t kTcpHeaderMaxLen = 60;

// Flag bits of the 8-bit flags byte (include/net/tcp.h TCPHDR_*).
inline constexpr uint8_t TCPHDR_FIN = 0x01;
inline constexpr uint8_t TCPHDR_SYN = 0x02;
inline constexpr uint8_t TCPHDR_RST = 0x04;
inline constexpr uint8_t TCPHDR_PSH = 0x08;
inline constexpr uint8_t TCPHDR_ACK = 0x10;
inline constexpr uint8_t TCPHDR_URG = 0x20;
inline constexpr uint8_t TCPHDR_ECE = 0x40;
inline constexpr uint8_t TCPHDR_CWR = 0x80;
static_assert(TCPHDR_SYN == RTE_TCP_SYN_FLAG && TCPHDR_CWR == RTE_TCP_CWR_FLAG);

inline uint16_t SrcPort(const TcpHeader& h) { return rte_be_to_cpu_16(h.src_port); }
inline uint16_t DstPort(const TcpHeader& h) { return rte_be_to_cpu_16(h.dst_port); }
inline uint32_t Seq(const TcpHeader& h) { return rte_be_to_cpu_32(h.sent_seq); }
inline uint32_t AckSeq(const TcpHeader& h) { return rte_be_to_cpu_32(h.recv_ack); }
inline uint16_t Window(const TcpHeader& h) { return rte_be_to_cpu_16(h.rx_win); }
inline uint16_t UrgPtr(const TcpHeader& h) { return rte_be_to_cpu_16(h.tcp_urp); }
inline uint8_t Flags(const TcpHeader& h) { return h.tcp_flags; }
inline bool HasFlag(const TcpHeader& h, uint8_t f) { return (h.tcp_flags & f) != 0; }

// Header length in bytes from the data offset (th->doff * 4). A value
// below 20 means a malformed header; callers drop it.
inline size_t HeaderLen(const TcpHeader& h) { return static_cast<size_t>(h.data_off >> 4) * 4; }
inline size_t OptionsLen(const TcpHeader& h) {
  const size_t l = HeaderLen(h);
  return l > kTcpHeaderMinLen ? l - kTcpHeaderMinLen : 0;
}
inline const uint8_t* OptionsPtr(const TcpHeader& h) {
  return reinterpret_cast<const uint8_t*>(&h) + kTcpHeaderMinLen;
}
inline uint8_t* OptionsPtr(TcpHeader& h) {
  return reinterpret_cast<uint8_t*>(&h) + kTcpHeaderMinLen;
}

inline void SetSrcPort(TcpHeader& h, uint16_t v) { h.src_port = rte_cpu_to_be_16(v); }
inline void SetDstPort(TcpHeader& h, uint16_t v) { h.dst_port = rte_cpu_to_be_16(v); }
inline void SetSeq(TcpHeader& h, uint32_t v) { h.sent_seq = rte_cpu_to_be_32(v); }
inline void SetAckSeq(TcpHeader& h, uint32_t v) { h.recv_ack = rte_cpu_to_be_32(v); }
inline void SetWindow(TcpHeader& h, uint16_t v) { h.rx_win = rte_cpu_to_be_16(v); }
inline void SetUrgPtr(TcpHeader& h, uint16_t v) { h.tcp_urp = rte_cpu_to_be_16(v); }
inline void SetFlags(TcpHeader& h, uint8_t f) { h.tcp_flags = f; }
// `len` is the header length in bytes, a multiple of 4 in [20, 60]. The
// low nibble (reserved bits, AccECN) is cleared.
inline void SetHeaderLen(TcpHeader& h, size_t len) {
  h.data_off = static_cast<uint8_t>((len / 4) << 4);
}

// Sequence space a segment occupies: payload plus one each for SYN and FIN
// (Linux TCP_SKB_CB(skb)->end_seq - seq).
inline uint32_t SegmentSeqLen(uint8_t flags, uint32_t payload_len) {
  return payload_len + ((flags & TCPHDR_SYN) ? 1 : 0) + ((flags & TCPHDR_FIN) ? 1 : 0);
}

// Flags as tcpdump prints them, in its order: F S R P . U E W; "none" for
// no flags ("S.", "F.", "P.", "R", "FP."). `out` needs 9 bytes; returns
// the length written (NUL not counted).
inline size_t FormatFlags(uint8_t f, char out[9]) {
  static constexpr struct {
    uint8_t bit;
    char c;
  } kOrder[] = {{TCPHDR_FIN, 'F'}, {TCPHDR_SYN, 'S'}, {TCPHDR_RST, 'R'},
                {TCPHDR_PSH, 'P'}, {TCPHDR_ACK, '.'}, {TCPHDR_URG, 'U'},
                {TCPHDR_ECE, 'E'}, {TCPHDR_CWR, 'W'}};
  size_t n = 0;
  for (const auto& o : kOrder)
    if (f & o.bit) out[n++] = o.c;
  if (n == 0) {
    out[0] = 'n', out[1] = 'o', out[2] = 'n', out[3] = 'e';
    n = 4;
  }
  out[n] = '\0';
  return n;
}

}  // namespace dpx::tcp
