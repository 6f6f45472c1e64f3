// IPv4 output: routing, the header we build, checksums (software and
// offloaded), tx batching and ring-full accounting.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_tcp.h>

#include "net/checksum.h"
#include "net_harness.h"

namespace dpx::testing {
namespace {

Ipv4Tx To(uint32_t dst, uint8_t proto = 253) {
  Ipv4Tx tx;
  tx.dst = dst;
  tx.proto = proto;
  return tx;
}

TEST(Ipv4Output, BuildsTheHeaderLikeLinuxForTcp) {
  OneStack t;
  t.TeachPeer();
  Ipv4Tx tx = To(kIpB);
  tx.id = 777;
  EXPECT_EQ(t.stack().SendIpv4(Payload(100), tx), TxStatus::kQueued);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& f = out[0];
  ASSERT_EQ(f.size(), 14u + 20 + 100);
  EXPECT_TRUE(MacEqual(Eth(f)->src_addr, kMacA));
  EXPECT_TRUE(MacEqual(Eth(f)->dst_addr, kMacB));
  EXPECT_EQ(Ip(f)->version_ihl, 0x45);
  EXPECT_EQ(rte_be_to_cpu_16(Ip(f)->total_length), 120);
  EXPECT_EQ(rte_be_to_cpu_16(Ip(f)->fragment_offset), RTE_IPV4_HDR_DF_FLAG);
  EXPECT_EQ(rte_be_to_cpu_16(Ip(f)->packet_id), 777);
  EXPECT_EQ(Ip(f)->time_to_live, 64);
  EXPECT_EQ(Ip(f)->src_addr, kIpA);
  EXPECT_EQ(Ip(f)->dst_addr, kIpB);
  EXPECT_TRUE(IpCksumOk(f));
  EXPECT_EQ(t.C(Mib::Ip_OutRequests), 1);
  EXPECT_EQ(t.C(Mib::IpExt_OutOctets), 120);
  EXPECT_EQ(t.C(Mib::Eth_OutFrames), 2);  // the ARP reply and this one
}

TEST(Ipv4Output, WithoutDfTheStackNumbersPackets) {
  OneStack t;
  t.TeachPeer();
  for (int i = 0; i < 2; ++i) {
    Ipv4Tx tx = To(kIpB);
    tx.df = false;
    t.stack().SendIpv4(Payload(8), tx);
  }
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Ip(out[0])->fragment_offset, 0);
  EXPECT_EQ(rte_be_to_cpu_16(Ip(out[1])->packet_id),
            static_cast<uint16_t>(rte_be_to_cpu_16(Ip(out[0])->packet_id) + 1));
}

TEST(Ipv4Output, OffSubnetGoesToTheGateway) {
  OneStack t;
  Ipv4Tx tx = To(Ipv4Addr(192, 0, 2, 1));
  EXPECT_EQ(t.stack().SendIpv4(Payload(8), tx), TxStatus::kPending);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Arp(out[0])->arp_data.arp_tip, kIpGw);  // resolving the gateway
  const rte_ether_addr gw_mac = {{0x02, 0, 0, 0, 0, 0xfe}};
  t.Inject(ArpFrame(RTE_ARP_OP_REPLY, kMacA, gw_mac, kIpGw, kMacA, kIpA));
  out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, gw_mac));
  EXPECT_EQ(Ip(out[0])->dst_addr, Ipv4Addr(192, 0, 2, 1));
}

TEST(Ipv4Output, NoRouteIsCounted) {
  IpStackConfig cfg = OneStack::DefaultConfig();
  cfg.gateway = 0;
  OneStack t(cfg);
  EXPECT_EQ(t.stack().SendIpv4(Payload(8), To(Ipv4Addr(192, 0, 2, 1))), TxStatus::kDropped);
  EXPECT_EQ(t.stack().SendIpv4(Payload(8), To(kIpA)), TxStatus::kDropped);  // no loopback
  EXPECT_EQ(t.C(Mib::Ip_OutNoRoutes), 2);
  EXPECT_EQ(t.C(Mib::Drop_IP_OUTNOROUTES), 2);
  EXPECT_EQ(t.C(Mib::Ip_OutRequests), 0);
}

TEST(Ipv4Output, BroadcastNeedsNoArp) {
  OneStack t;
  EXPECT_EQ(t.stack().SendIpv4(Payload(8), To(Ipv4Addr(10, 0, 0, 255))), TxStatus::kQueued);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kBroadcastMac));
}

TEST(Ipv4Output, TooBigForTheMtuIsDropped) {
  OneStack t;
  t.TeachPeer();
  EXPECT_EQ(t.stack().SendIpv4(Payload(1481), To(kIpB)), TxStatus::kDropped);
  EXPECT_EQ(t.C(Mib::Ip_FragFails), 1);
  EXPECT_EQ(t.C(Mib::Drop_PKT_TOO_BIG), 1);
  EXPECT_EQ(t.stack().SendIpv4(Payload(1480), To(kIpB)), TxStatus::kQueued);
}

// A 20-byte TCP header + data, checksum field zero.
rte_mbuf* TcpSegment(uint16_t data_len) {
  rte_mbuf* m = Payload(static_cast<uint16_t>(20 + data_len), 0x42);
  auto* th = rte_pktmbuf_mtod(m, rte_tcp_hdr*);
  std::memset(th, 0, 20);
  th->src_port = rte_cpu_to_be_16(80);
  th->dst_port = rte_cpu_to_be_16(40000);
  th->data_off = 5 << 4;
  th->tcp_flags = RTE_TCP_ACK_FLAG;
  return m;
}

bool TcpCksumOk(const Bytes& f) {
  rte_mbuf* m = ToMbuf(f);
  const uint16_t l4_len = static_cast<uint16_t>(rte_be_to_cpu_16(Ip(f)->total_length) - 20);
  const bool ok = Ipv4L4CksumOk(m, 34, Ip(f)->src_addr, Ip(f)->dst_addr, IPPROTO_TCP, l4_len);
  rte_pktmbuf_free(m);
  return ok;
}

TEST(Ipv4Output, TcpChecksumInSoftware) {
  OneStack t;
  t.TeachPeer();
  Ipv4Tx tx = To(kIpB, IPPROTO_TCP);
  tx.l4_cksum = true;
  t.stack().SendIpv4(TcpSegment(33), tx);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(TcpCksumOk(out[0]));
  EXPECT_TRUE(IpCksumOk(out[0]));
}

TEST(Ipv4Output, ChecksumsOffloadedToTheNic) {
  WireEndConfig a = OneStack::EndA();
  a.tx_offloads = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
  OneStack t(OneStack::DefaultConfig(), a);
  t.TeachPeer();
  Ipv4Tx tx = To(kIpB, IPPROTO_TCP);
  tx.l4_cksum = true;
  t.stack().SendIpv4(TcpSegment(100), tx);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  // The wire end did the NIC's work: both checksums are right on the wire.
  EXPECT_TRUE(IpCksumOk(out[0]));
  EXPECT_TRUE(TcpCksumOk(out[0]));
}

TEST(Ipv4Output, FillL4CksumSetsOffloadFlagsAndPseudoHeader) {
  Ipv4Spec spec;
  spec.src = kIpA;
  spec.dst = kIpB;
  spec.proto = IPPROTO_TCP;
  spec.payload = Bytes(30, 0);
  rte_mbuf* m = ToMbuf(Ipv4Frame(spec));
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  m->l2_len = 14;
  m->l3_len = 20;
  ASSERT_TRUE(FillL4Cksum(m, ip, RTE_ETH_TX_OFFLOAD_TCP_CKSUM));
  EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_TCP_CKSUM);
  EXPECT_TRUE(m->ol_flags & RTE_MBUF_F_TX_IPV4);
  const auto* th = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, 34);
  EXPECT_EQ(th->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags));
  EXPECT_EQ(th->cksum, Ipv4PseudoCksum(kIpA, kIpB, IPPROTO_TCP, 30));
  rte_pktmbuf_free(m);
}

TEST(Ipv4Output, FramesTheRingRefusesWaitForTheNextFlush) {
  WireEndConfig a = OneStack::EndA();
  a.tx_capacity = 2;
  OneStack t(OneStack::DefaultConfig(), a);
  t.TeachPeer();
  t.wire().set_delay(1'000'000);  // keep frames "in the ring" for 1 ms
  const int64_t out0 = t.C(Mib::Eth_OutFrames);
  for (int i = 0; i < 5; ++i) {
    Ipv4Tx tx = To(kIpB);
    tx.df = false;  // the stack numbers them: the order is visible
    t.stack().SendIpv4(Payload(8), tx);
  }
  t.stack().Flush();
  EXPECT_EQ(t.C(Mib::Eth_OutFrames) - out0, 2);  // the ring took two
  EXPECT_EQ(t.C(Mib::Drop_TX_RING_FULL), 0);     // three wait
  std::vector<Bytes> sent;
  for (int i = 0; i < 4; ++i) {
    t.Advance(2'000'000);
    for (auto& f : t.Sent()) sent.push_back(f);  // the peer takes them: the ring frees
    t.stack().Flush();
  }
  ASSERT_EQ(sent.size(), 5u);
  for (size_t i = 1; i < sent.size(); ++i)  // in the order they were sent
    EXPECT_EQ(rte_be_to_cpu_16(Ip(sent[i])->packet_id),
              static_cast<uint16_t>(rte_be_to_cpu_16(Ip(sent[i - 1])->packet_id) + 1));
  EXPECT_EQ(t.C(Mib::Eth_OutFrames) - out0, 5);
  EXPECT_EQ(t.C(Mib::Drop_TX_RING_FULL), 0);
}

TEST(Ipv4Output, FramesWaitForFlush) {
  OneStack t;
  t.TeachPeer();
  t.stack().SendIpv4(Payload(8), To(kIpB));
  EXPECT_EQ(t.wire().sent(WireDir::kAtoB), 1u);  // only the ARP reply so far
  t.stack().Flush();
  EXPECT_EQ(t.wire().sent(WireDir::kAtoB), 2u);
}

}  // namespace
}  // namespace dpx::testing
