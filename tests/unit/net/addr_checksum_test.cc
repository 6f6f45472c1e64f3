// Address parsing/formatting and checksum helpers against DPDK's own.
#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "net/checksum.h"
#include "net_harness.h"

namespace dpx::testing {
namespace {

TEST(Ipv4Addr, ParseAndFormat) {
  uint32_t ip;
  ASSERT_TRUE(ParseIpv4("10.0.0.1", &ip));
  EXPECT_EQ(ip, Ipv4Addr(10, 0, 0, 1));
  EXPECT_EQ(FormatIpv4(ip), "10.0.0.1");
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(&ip)[0], 10);  // network order
  for (const char* bad : {"", "10.0.0", "10.0.0.1.2", "256.0.0.1", "a.b.c.d", "10..0.1",
                          "10.0.0.1 ", "1234.0.0.1"})
    EXPECT_FALSE(ParseIpv4(bad, &ip)) << bad;
  uint8_t len;
  ASSERT_TRUE(ParseIpv4Prefix("192.168.1.7/24", &ip, &len));
  EXPECT_EQ(len, 24);
  EXPECT_FALSE(ParseIpv4Prefix("192.168.1.7/33", &ip, &len));
  EXPECT_EQ(Ipv4PrefixMask(24), Ipv4Addr(255, 255, 255, 0));
  EXPECT_EQ(Ipv4PrefixMask(0), 0u);
  EXPECT_EQ(Ipv4PrefixMask(32), kIpv4Broadcast);
}

TEST(Mac, ParseAndFormat) {
  rte_ether_addr mac;
  ASSERT_TRUE(ParseMac("02:00:00:AB:cd:0f", &mac));
  EXPECT_EQ(FormatMac(mac), "02:00:00:ab:cd:0f");
  EXPECT_FALSE(ParseMac("02:00:00:ab:cd", &mac));
  EXPECT_FALSE(ParseMac("02-00-00-ab-cd-0f", &mac));
}

TEST(Checksum, MatchesDpdk) {
  Bytes seg(20 + 37);
  for (size_t i = 0; i < seg.size(); ++i) seg[i] = static_cast<uint8_t>(i * 7 + 3);
  seg[16] = seg[17] = 0;  // tcp checksum field
  rte_ipv4_hdr ip{};
  ip.version_ihl = 0x45;
  ip.total_length = rte_cpu_to_be_16(static_cast<uint16_t>(20 + seg.size()));
  ip.next_proto_id = IPPROTO_TCP;
  ip.src_addr = kIpA;
  ip.dst_addr = kIpB;
  EXPECT_EQ(Ipv4PseudoCksum(kIpA, kIpB, IPPROTO_TCP, static_cast<uint16_t>(seg.size())),
            rte_ipv4_phdr_cksum(&ip, 0));
  rte_mbuf* m = ToMbuf(seg);
  const uint16_t c = Ipv4L4Cksum(m, 0, kIpA, kIpB, IPPROTO_TCP, static_cast<uint16_t>(seg.size()));
  EXPECT_EQ(c, rte_ipv4_udptcp_cksum(&ip, seg.data()));
  std::memcpy(rte_pktmbuf_mtod_offset(m, uint8_t*, 16), &c, 2);
  EXPECT_TRUE(L4CksumValid(m, kIpA, kIpB, IPPROTO_TCP));
  rte_pktmbuf_mtod(m, uint8_t*)[30] ^= 1;
  EXPECT_FALSE(L4CksumValid(m, kIpA, kIpB, IPPROTO_TCP));
  m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;  // the NIC's word wins
  EXPECT_TRUE(L4CksumValid(m, kIpA, kIpB, IPPROTO_TCP));
  rte_pktmbuf_free(m);
  ip.hdr_checksum = Ipv4HeaderCksum(&ip);
  EXPECT_TRUE(Ipv4HeaderCksumOk(&ip, 20));
}

TEST(Checksum, AcrossSegments) {
  Bytes data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  rte_mbuf* head = ToMbuf(Bytes(data.begin(), data.begin() + 101));  // odd split
  rte_mbuf* tail = ToMbuf(Bytes(data.begin() + 101, data.end()));
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  EXPECT_EQ(InetCksumMbuf(head, 0, 300), static_cast<uint16_t>(~rte_raw_cksum(data.data(), 300)));
  rte_pktmbuf_free(head);
}

}  // namespace
}  // namespace dpx::testing
