// Test harness for lib/net: frame builders and stacks on the in-memory
// wire under virtual time. Header-only, shared by the net unit tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "core/timer_kinds.h"
#include "net/ethernet.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"
#include "net/wire.h"
#include "support/eal_env.h"

namespace dpx::testing {

using Bytes = std::vector<uint8_t>;

inline constexpr rte_ether_addr kMacA = {{0x02, 0, 0, 0, 0, 0x0a}};
inline constexpr rte_ether_addr kMacB = {{0x02, 0, 0, 0, 0, 0x0b}};
inline constexpr uint32_t kIpA = Ipv4Addr(10, 0, 0, 1);
inline constexpr uint32_t kIpB = Ipv4Addr(10, 0, 0, 2);
inline constexpr uint32_t kIpGw = Ipv4Addr(10, 0, 0, 254);
inline constexpr uint16_t kWakeKind = timer_kind::kWireWakeup;

inline rte_mbuf* ToMbuf(const Bytes& b) {
  rte_mbuf* m = rte_pktmbuf_alloc(TestPool());
  EXPECT_NE(m, nullptr);
  if (!b.empty()) {
    char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(b.size()));
    EXPECT_NE(p, nullptr);
    std::memcpy(p, b.data(), b.size());
  }
  return m;
}

inline Bytes ToBytes(const rte_mbuf* m) {
  Bytes b(rte_pktmbuf_pkt_len(m));
  if (!b.empty()) {
    const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(b.size()), b.data());
    if (p != b.data()) std::memcpy(b.data(), p, b.size());
  }
  return b;
}

inline void PutEth(Bytes& b, const rte_ether_addr& dst, const rte_ether_addr& src, uint16_t type) {
  rte_ether_hdr h;
  h.dst_addr = dst;
  h.src_addr = src;
  h.ether_type = rte_cpu_to_be_16(type);
  const auto* p = reinterpret_cast<const uint8_t*>(&h);
  b.insert(b.end(), p, p + sizeof(h));
}

inline Bytes ArpFrame(uint16_t op, const rte_ether_addr& eth_dst, const rte_ether_addr& sha,
                      uint32_t sip, const rte_ether_addr& tha, uint32_t tip) {
  Bytes b;
  PutEth(b, eth_dst, sha, RTE_ETHER_TYPE_ARP);
  rte_arp_hdr a;
  a.arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  a.arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  a.arp_hlen = 6;
  a.arp_plen = 4;
  a.arp_opcode = rte_cpu_to_be_16(op);
  a.arp_data.arp_sha = sha;
  a.arp_data.arp_sip = sip;
  a.arp_data.arp_tha = tha;
  a.arp_data.arp_tip = tip;
  const auto* p = reinterpret_cast<const uint8_t*>(&a);
  b.insert(b.end(), p, p + sizeof(a));
  b.resize(60, 0);  // Ethernet minimum, as on a real wire
  return b;
}

// An IPv4 packet (header checksum valid) inside an Ethernet frame.
struct Ipv4Spec {
  rte_ether_addr eth_dst = kMacA;
  rte_ether_addr eth_src = kMacB;
  uint32_t src = kIpB;
  uint32_t dst = kIpA;
  uint8_t proto = 253;  // RFC 3692 experimental: no handler unless registered
  uint8_t ttl = 64;
  uint8_t tos = 0;
  uint16_t id = 0x1234;
  uint16_t frag = RTE_IPV4_HDR_DF_FLAG;  // host order flags|offset
  Bytes options;
  Bytes payload = Bytes(16, 0xab);
};

inline Bytes Ipv4Frame(const Ipv4Spec& s) {
  Bytes b;
  PutEth(b, s.eth_dst, s.eth_src, RTE_ETHER_TYPE_IPV4);
  const size_t ip_off = b.size();
  const uint16_t ihl = static_cast<uint16_t>(20 + s.options.size());
  rte_ipv4_hdr h{};
  h.version_ihl = static_cast<uint8_t>(0x40 | (ihl / 4));
  h.type_of_service = s.tos;
  h.total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ihl + s.payload.size()));
  h.packet_id = rte_cpu_to_be_16(s.id);
  h.fragment_offset = rte_cpu_to_be_16(s.frag);
  h.time_to_live = s.ttl;
  h.next_proto_id = s.proto;
  h.src_addr = s.src;
  h.dst_addr = s.dst;
  const auto* p = reinterpret_cast<const uint8_t*>(&h);
  b.insert(b.end(), p, p + sizeof(h));
  b.insert(b.end(), s.options.begin(), s.options.end());
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(b.data() + ip_off);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  b.insert(b.end(), s.payload.begin(), s.payload.end());
  return b;
}

// Recomputes the IPv4 header checksum of a frame after a test edited it.
inline void FixIpCksum(Bytes& f) {
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

inline Bytes IcmpEchoPayload(uint8_t type, uint16_t id, uint16_t seq, const Bytes& data) {
  Bytes b(8);
  b[0] = type;
  b[4] = static_cast<uint8_t>(id >> 8);
  b[5] = static_cast<uint8_t>(id);
  b[6] = static_cast<uint8_t>(seq >> 8);
  b[7] = static_cast<uint8_t>(seq);
  b.insert(b.end(), data.begin(), data.end());
  const uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(b.data(), b.size()));
  std::memcpy(&b[2], &c, 2);
  return b;
}

// Frame views for assertions.
inline const rte_ether_hdr* Eth(const Bytes& f) { return reinterpret_cast<const rte_ether_hdr*>(f.data()); }
inline uint16_t EthType(const Bytes& f) { return rte_be_to_cpu_16(Eth(f)->ether_type); }
inline const rte_arp_hdr* Arp(const Bytes& f) { return reinterpret_cast<const rte_arp_hdr*>(f.data() + 14); }
inline const rte_ipv4_hdr* Ip(const Bytes& f) { return reinterpret_cast<const rte_ipv4_hdr*>(f.data() + 14); }
inline const uint8_t* L4(const Bytes& f) { return f.data() + 14 + (Ip(f)->version_ihl & 0xf) * 4; }
inline bool IpCksumOk(const Bytes& f) { return rte_raw_cksum(Ip(f), (Ip(f)->version_ihl & 0xf) * 4) == 0xffff; }

// One IpStack (end A of a wire) and a raw peer (end B) that the test drives
// by hand: inject frames as B, read what A sent from the capture.
class OneStack {
 public:
  explicit OneStack(IpStackConfig cfg = DefaultConfig(), WireEndConfig a_end = EndA(),
                    WireEndConfig b_end = EndB())
      : reactor_(0, &clock_, &mib_),
        wire_(clock_, TestPool(), WireConfig{a_end, b_end, 0, true}),
        stack_(reactor_, wire_.a(), TestPool(), cfg) {
    stack_.AttachToReactor();
    wire_.SetWakeup(&reactor_.timers(), kWakeKind);
  }
  ~OneStack() { DrainPeer(); }

  static IpStackConfig DefaultConfig() {
    IpStackConfig c;
    c.ip = kIpA;
    c.prefix_len = 24;
    c.gateway = kIpGw;
    return c;
  }
  static WireEndConfig EndA() { WireEndConfig e; e.mac = kMacA; return e; }
  static WireEndConfig EndB() { WireEndConfig e; e.mac = kMacB; return e; }

  // Sends a frame from the peer and lets the stack process it.
  void Inject(const Bytes& frame) {
    rte_mbuf* m = ToMbuf(frame);
    ASSERT_EQ(wire_.b().TxBurst(&m, 1), 1);
    Settle();
  }
  void Settle() { RunVirtualUntil(clock_, {&reactor_}, clock_.NowNs()); }
  void Advance(uint64_t ns) { RunVirtualUntil(clock_, {&reactor_}, clock_.NowNs() + ns); }

  // Frames the stack sent since the last call (and frees them at the peer).
  std::vector<Bytes> Sent() {
    DrainPeer();
    std::vector<Bytes> out;
    for (size_t i = seen_; i < wire_.captured().size(); ++i)
      if (wire_.captured()[i].dir == WireDir::kAtoB) out.push_back(wire_.captured()[i].bytes);
    seen_ = wire_.captured().size();
    return out;
  }
  void DrainPeer() {
    rte_mbuf* pkts[32];
    uint16_t n;
    while ((n = wire_.b().RxBurst(pkts, 32)) > 0) rte_pktmbuf_free_bulk(pkts, n);
  }
  // Resolves kIpB in the stack's ARP table (a reply from the peer).
  void TeachPeer() {
    Inject(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpA));
    Sent();
  }

  int64_t C(Mib m) const { return mib_.Get(m); }
  IpStack& stack() { return stack_; }
  Wire& wire() { return wire_; }
  VirtualClock& clock() { return clock_; }
  Reactor& reactor() { return reactor_; }

 private:
  VirtualClock clock_{1'000'000'000};
  Counters mib_;
  Reactor reactor_;
  Wire wire_;
  IpStack stack_;
  size_t seen_ = 0;
};

// An mbuf carrying `len` bytes of L4 payload, ready for SendIpv4.
inline rte_mbuf* Payload(uint16_t len, uint8_t fill = 0x5a) {
  rte_mbuf* m = rte_pktmbuf_alloc(TestPool());
  char* p = rte_pktmbuf_append(m, len);
  std::memset(p, fill, len);
  return m;
}

}  // namespace dpx::testing
