// IPv4 input validation: every malformed header is rejected with its
// counter, nothing crashes, nothing leaks; good packets reach their handler.
#include <random>

#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "net/icmp.h"
#include "net_harness.h"

namespace dpx::testing {
namespace {

constexpr uint8_t kProto = 253;

class Ipv4Input : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = std::make_unique<OneStack>();
    t_->stack().RegisterProtocol(kProto, [this](rte_mbuf* m, const Ipv4Rx& rx) {
      got_.push_back(rx);
      payloads_.push_back(ToBytes(m));
      rte_pktmbuf_free(m);
    });
  }
  // Everything counted in one place: InReceives, and no delivery.
  void ExpectRejected(const Bytes& frame, Mib drop, Mib snmp) {
    const int64_t before_drop = t_->C(drop);
    const int64_t before_snmp = t_->C(snmp);
    t_->Inject(frame);
    EXPECT_EQ(t_->C(drop), before_drop + 1) << MibNstatName(drop);
    EXPECT_EQ(t_->C(snmp), before_snmp + 1) << MibNstatName(snmp);
    EXPECT_TRUE(got_.empty());
    EXPECT_EQ(t_->C(Mib::Ip_InDelivers), 0);
  }

  std::unique_ptr<OneStack> t_;
  std::vector<Ipv4Rx> got_;
  std::vector<Bytes> payloads_;
};

TEST_F(Ipv4Input, DeliversAValidPacketWithItsMetadata) {
  Ipv4Spec s;
  s.ttl = 9;
  s.tos = 0x10;
  t_->Inject(Ipv4Frame(s));
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0].src, kIpB);
  EXPECT_EQ(got_[0].dst, kIpA);
  EXPECT_EQ(got_[0].ttl, 9);
  EXPECT_EQ(got_[0].tos, 0x10);
  EXPECT_EQ(got_[0].proto, kProto);
  EXPECT_EQ(got_[0].l4_len, 16);
  EXPECT_EQ(got_[0].id, 0x1234);
  EXPECT_FALSE(got_[0].broadcast);
  EXPECT_EQ(payloads_[0], Bytes(16, 0xab));
  EXPECT_EQ(t_->C(Mib::Ip_InReceives), 1);
  EXPECT_EQ(t_->C(Mib::Ip_InDelivers), 1);
}

TEST_F(Ipv4Input, TrimsEthernetPadding) {
  Ipv4Spec s;
  s.payload = Bytes(4, 0xcd);
  Bytes f = Ipv4Frame(s);
  f.resize(60, 0);  // padded to the Ethernet minimum
  t_->Inject(f);
  ASSERT_EQ(payloads_.size(), 1u);
  EXPECT_EQ(payloads_[0], Bytes(4, 0xcd));
  EXPECT_EQ(got_[0].l4_len, 4);
}

TEST_F(Ipv4Input, TrimsPaddingAcrossSegments) {
  Ipv4Spec s;
  s.payload = Bytes(4, 0xcd);
  const Bytes f = Ipv4Frame(s);
  const unsigned avail = rte_mempool_avail_count(TestPool());
  rte_mbuf* head = ToMbuf(f);
  rte_mbuf* pad = ToMbuf(Bytes(30, 0));  // a segment of padding only
  ASSERT_EQ(rte_pktmbuf_chain(head, pad), 0);
  t_->stack().Input(head);
  ASSERT_EQ(payloads_.size(), 1u);
  EXPECT_EQ(payloads_[0], Bytes(4, 0xcd));
  EXPECT_EQ(rte_mempool_avail_count(TestPool()), avail);
}

TEST_F(Ipv4Input, AcceptsOptionsAndSkipsThem) {
  Ipv4Spec s;
  s.options = {1, 1, 1, 0};  // NOP NOP NOP EOL
  t_->Inject(Ipv4Frame(s));
  ASSERT_EQ(payloads_.size(), 1u);
  EXPECT_EQ(payloads_[0], Bytes(16, 0xab));
}

TEST_F(Ipv4Input, RejectsBadVersion) {
  Bytes f = Ipv4Frame({});
  f[14] = 0x65;
  FixIpCksum(f);
  ExpectRejected(f, Mib::Drop_IP_VERSION, Mib::Ip_InHdrErrors);
}

TEST_F(Ipv4Input, RejectsIhlBelowFive) {
  Bytes f = Ipv4Frame({});
  f[14] = 0x44;
  ExpectRejected(f, Mib::Drop_IP_IHL, Mib::Ip_InHdrErrors);
}

TEST_F(Ipv4Input, RejectsIhlBeyondPacket) {
  Ipv4Spec s;
  s.payload = {};
  Bytes f = Ipv4Frame(s);  // 20-byte packet claiming a 60-byte header
  f[14] = 0x4f;
  ExpectRejected(f, Mib::Drop_IP_IHL, Mib::Ip_InHdrErrors);
}

TEST_F(Ipv4Input, RejectsPacketShorterThanAHeader) {
  Bytes f = Ipv4Frame({});
  f.resize(14 + 12);
  ExpectRejected(f, Mib::Drop_PKT_TOO_SMALL, Mib::Ip_InHdrErrors);
}

TEST_F(Ipv4Input, RejectsTotalLengthBelowHeaderLength) {
  Bytes f = Ipv4Frame({});
  f[16] = 0;
  f[17] = 19;
  FixIpCksum(f);
  ExpectRejected(f, Mib::Drop_IP_TOTLEN, Mib::Ip_InHdrErrors);
}

TEST_F(Ipv4Input, RejectsTotalLengthBeyondPacketAsTruncated) {
  Bytes f = Ipv4Frame({});
  f[16] = 0x05;  // 1280+ bytes claimed, 36 present
  FixIpCksum(f);
  ExpectRejected(f, Mib::Drop_IP_TRUNCATED, Mib::IpExt_InTruncatedPkts);
  EXPECT_EQ(t_->C(Mib::Ip_InHdrErrors), 0);  // Linux counts it apart
}

TEST_F(Ipv4Input, RejectsBadChecksum) {
  Bytes f = Ipv4Frame({});
  f[14 + 10] ^= 0x01;
  ExpectRejected(f, Mib::Drop_IP_CSUM, Mib::IpExt_InCsumErrors);
  EXPECT_EQ(t_->C(Mib::Ip_InHdrErrors), 1);  // both, like Linux csum_error
}

TEST_F(Ipv4Input, HonoursTheNicChecksumVerdict) {
  // GOOD: a wrong checksum is not looked at again.
  Bytes f = Ipv4Frame({});
  f[14 + 10] ^= 0x01;
  rte_mbuf* m = ToMbuf(f);
  m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
  t_->stack().Input(m);
  EXPECT_EQ(got_.size(), 1u);
  // BAD: a right checksum is still refused.
  m = ToMbuf(Ipv4Frame({}));
  m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
  t_->stack().Input(m);
  EXPECT_EQ(got_.size(), 1u);
  EXPECT_EQ(t_->C(Mib::Drop_IP_CSUM), 1);
}

TEST_F(Ipv4Input, NicChecksumOffloadOnTheWire) {
  WireEndConfig a = OneStack::EndA();
  a.rx_offloads = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
  OneStack t(OneStack::DefaultConfig(), a);
  Bytes f = Ipv4Frame({});
  f[14 + 10] ^= 0x01;
  t.Inject(f);
  EXPECT_EQ(t.C(Mib::Drop_IP_CSUM), 1);
  EXPECT_EQ(t.C(Mib::IpExt_InCsumErrors), 1);
}

TEST_F(Ipv4Input, RejectsTtlZero) {
  Ipv4Spec s;
  s.ttl = 0;
  ExpectRejected(Ipv4Frame(s), Mib::Drop_IP_TTL, Mib::Ip_InHdrErrors);
}

TEST_F(Ipv4Input, DropsFragments) {
  Ipv4Spec s;
  s.frag = RTE_IPV4_HDR_MF_FLAG;  // first fragment
  ExpectRejected(Ipv4Frame(s), Mib::Drop_IP_FRAGMENT, Mib::Ip_ReasmFails);
  s.frag = 100;  // a later fragment
  ExpectRejected(Ipv4Frame(s), Mib::Drop_IP_FRAGMENT, Mib::Ip_ReasmFails);
  EXPECT_EQ(t_->C(Mib::Ip_ReasmReqds), 2);
}

TEST_F(Ipv4Input, RejectsPacketsNotForUs) {
  Ipv4Spec s;
  s.dst = Ipv4Addr(10, 0, 0, 99);
  ExpectRejected(Ipv4Frame(s), Mib::Drop_IP_INADDRERRORS, Mib::Ip_InAddrErrors);
  s.dst = Ipv4Addr(8, 8, 8, 8);  // we do not forward
  ExpectRejected(Ipv4Frame(s), Mib::Drop_IP_INADDRERRORS, Mib::Ip_InAddrErrors);
}

TEST_F(Ipv4Input, RejectsFramesForAnotherMac) {
  Ipv4Spec s;
  s.eth_dst = rte_ether_addr{{0x02, 0, 0, 0, 0, 0x77}};
  ExpectRejected(Ipv4Frame(s), Mib::Drop_OTHERHOST, Mib::Eth_InFrames);
  EXPECT_EQ(t_->C(Mib::Ip_InReceives), 0);
}

TEST_F(Ipv4Input, RejectsMartianSources) {
  const int64_t before = t_->C(Mib::Ip_InReceives);
  for (uint32_t src : {Ipv4Addr(127, 0, 0, 1), Ipv4Addr(224, 0, 0, 1), kIpv4Broadcast, kIpA,
                       Ipv4Addr(10, 0, 0, 255), Ipv4Addr(0, 0, 0, 0)}) {
    Ipv4Spec s;
    s.src = src;
    t_->Inject(Ipv4Frame(s));
  }
  EXPECT_EQ(t_->C(Mib::Ip_InReceives), before + 6);
  EXPECT_EQ(t_->C(Mib::Drop_IP_INVALID_SOURCE), 6);
  EXPECT_TRUE(got_.empty());
}

TEST_F(Ipv4Input, BroadcastIsDeliveredAndFlagged) {
  Ipv4Spec s;
  s.eth_dst = kBroadcastMac;
  s.dst = Ipv4Addr(10, 0, 0, 255);
  t_->Inject(Ipv4Frame(s));
  s.dst = kIpv4Broadcast;
  t_->Inject(Ipv4Frame(s));
  ASSERT_EQ(got_.size(), 2u);
  EXPECT_TRUE(got_[0].broadcast);
  EXPECT_TRUE(got_[1].broadcast);
}

TEST_F(Ipv4Input, RejectsMalformedOptionsAndSourceRoutes) {
  Ipv4Spec s;
  s.options = {7, 40, 4, 0};  // record route claiming 40 bytes in 4
  ExpectRejected(Ipv4Frame(s), Mib::Drop_IP_OPTIONS, Mib::Ip_InHdrErrors);
  s.options = {131, 3, 4, 0};  // loose source route
  t_->Inject(Ipv4Frame(s));
  EXPECT_EQ(t_->C(Mib::Drop_IP_SOURCE_ROUTE), 1);
  EXPECT_TRUE(got_.empty());
}

TEST_F(Ipv4Input, UnknownProtocolGetsIcmpProtocolUnreachable) {
  t_->TeachPeer();
  Ipv4Spec s;
  s.proto = 200;
  const Bytes f = Ipv4Frame(s);
  t_->Inject(f);
  EXPECT_EQ(t_->C(Mib::Ip_InUnknownProtos), 1);
  EXPECT_EQ(t_->C(Mib::Drop_IP_NOPROTO), 1);
  auto out = t_->Sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& r = out[0];
  EXPECT_TRUE(MacEqual(Eth(r)->dst_addr, kMacB));
  EXPECT_EQ(Ip(r)->next_proto_id, IPPROTO_ICMP);
  EXPECT_EQ(Ip(r)->src_addr, kIpA);
  EXPECT_EQ(Ip(r)->dst_addr, kIpB);
  EXPECT_EQ(Ip(r)->type_of_service, 0xc0);  // IPTOS_PREC_INTERNETCONTROL
  EXPECT_TRUE(IpCksumOk(r));
  const uint8_t* icmp = L4(r);
  EXPECT_EQ(icmp[0], kIcmpDestUnreach);
  EXPECT_EQ(icmp[1], kIcmpProtUnreach);
  const size_t icmp_len = r.size() - 14 - 20;
  EXPECT_EQ(rte_raw_cksum(icmp, icmp_len), 0xffff);
  // It quotes our packet: the IP header and the payload (all of it fits).
  ASSERT_EQ(icmp_len, 8 + f.size() - 14);
  EXPECT_TRUE(std::equal(f.begin() + 14, f.end(), icmp + 8));
  EXPECT_EQ(t_->C(Mib::Icmp_OutDestUnreachs), 1);
}

TEST_F(Ipv4Input, NoProtocolUnreachableForBroadcast) {
  Ipv4Spec s;
  s.proto = 200;
  s.eth_dst = kBroadcastMac;
  s.dst = kIpv4Broadcast;
  t_->Inject(Ipv4Frame(s));
  EXPECT_EQ(t_->C(Mib::Drop_IP_NOPROTO), 1);
  EXPECT_TRUE(t_->Sent().empty());
}

TEST_F(Ipv4Input, RejectsUnknownEtherTypeAndRunts) {
  Bytes f = Ipv4Frame({});
  f[12] = 0x86;
  f[13] = 0xdd;  // IPv6
  t_->Inject(f);
  EXPECT_EQ(t_->C(Mib::Drop_UNHANDLED_PROTO), 1);
  t_->Inject(Bytes(10, 0xff));
  EXPECT_EQ(t_->C(Mib::Drop_PKT_TOO_SMALL), 1);
}

// A few hundred randomly mutated packets: none crashes (ASan/UBSan clean),
// each is counted once, and every mbuf returns to the pool.
TEST_F(Ipv4Input, SurvivesRandomlyMutatedPackets) {
  t_->TeachPeer();
  t_->Settle();
  t_->Sent();
  const unsigned avail_before = rte_mempool_avail_count(TestPool());
  std::mt19937 rng(20240611);
  std::vector<Bytes> seeds;
  seeds.push_back(Ipv4Frame({}));
  {
    Ipv4Spec s;
    s.proto = IPPROTO_ICMP;
    s.payload = IcmpEchoPayload(kIcmpEcho, 1, 1, Bytes(24, 0x11));
    seeds.push_back(Ipv4Frame(s));
    s.options = {1, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0};
    seeds.push_back(Ipv4Frame(s));
    s.options = {};
    s.payload = {3, 3, 0, 0, 0, 0, 0, 0};  // an ICMP error quoting garbage
    Bytes inner = Ipv4Frame({});
    s.payload.insert(s.payload.end(), inner.begin() + 14, inner.end());
    seeds.push_back(Ipv4Frame(s));
  }
  seeds.push_back(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpA));
  constexpr int kRuns = 600;
  for (int i = 0; i < kRuns; ++i) {
    Bytes f = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 4) {
        case 0:  // a byte in the headers
          f[rng() % std::min<size_t>(f.size(), 14 + 40)] = static_cast<uint8_t>(rng());
          break;
        case 1:  // a byte anywhere
          f[rng() % f.size()] = static_cast<uint8_t>(rng());
          break;
        case 2:  // cut
          f.resize(rng() % (f.size() + 1));
          break;
        case 3:  // grow
          f.resize(f.size() + rng() % 64, static_cast<uint8_t>(rng()));
          break;
      }
      if (f.empty()) f.push_back(0);
    }
    if (rng() % 2 && f.size() >= 34 && EthType(f) == RTE_ETHER_TYPE_IPV4 &&
        (f[14] & 0x0f) * 4 + 14u <= f.size() && (f[14] & 0x0f) >= 5)
      FixIpCksum(f);  // half the time get past the checksum
    rte_mbuf* m = ToMbuf(f);
    t_->stack().Input(m);
    t_->Advance(1'000'000);
  }
  t_->Advance(120'000'000'000);  // ARP retries and collection run out
  t_->Sent();
  t_->stack().Flush();
  t_->DrainPeer();
  EXPECT_EQ(t_->C(Mib::Eth_InFrames), kRuns + 1);
  EXPECT_EQ(rte_mempool_avail_count(TestPool()), avail_before);
}

}  // namespace
}  // namespace dpx::testing
