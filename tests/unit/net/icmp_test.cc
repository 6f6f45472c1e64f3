// ICMP: echo replies on the wire, checksum errors, broadcast pings,
// destination-unreachable rate limiting, errors handed to L4, and a ping
// between two IpStacks joined by the wire (ARP resolving both ways).
#include <gtest/gtest.h>

#include "net/icmp.h"
#include "net_harness.h"

namespace dpx::testing {
namespace {

Bytes EchoRequest(uint16_t id, uint16_t seq, const Bytes& data, uint32_t dst = kIpA,
                  rte_ether_addr eth_dst = kMacA) {
  Ipv4Spec s;
  s.proto = IPPROTO_ICMP;
  s.dst = dst;
  s.eth_dst = eth_dst;
  s.tos = 0x08;
  s.payload = IcmpEchoPayload(kIcmpEcho, id, seq, data);
  return Ipv4Frame(s);
}

TEST(Icmp, EchoReplyCarriesIdSeqAndPayload) {
  OneStack t;
  t.TeachPeer();
  Bytes data;
  for (int i = 0; i < 56; ++i) data.push_back(static_cast<uint8_t>(i));
  t.Inject(EchoRequest(0x4242, 7, data));
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& r = out[0];
  EXPECT_TRUE(MacEqual(Eth(r)->dst_addr, kMacB));
  EXPECT_EQ(Ip(r)->src_addr, kIpA);
  EXPECT_EQ(Ip(r)->dst_addr, kIpB);
  EXPECT_EQ(Ip(r)->next_proto_id, IPPROTO_ICMP);
  EXPECT_EQ(Ip(r)->type_of_service, 0x08);
  EXPECT_TRUE(IpCksumOk(r));
  EXPECT_EQ(Bytes(L4(r), r.data() + r.size()), IcmpEchoPayload(kIcmpEchoReply, 0x4242, 7, data));
  EXPECT_EQ(t.C(Mib::Icmp_InMsgs), 1);
  EXPECT_EQ(t.C(Mib::Icmp_InEchos), 1);
  EXPECT_EQ(t.C(Mib::Icmp_OutEchoReps), 1);
  EXPECT_EQ(t.C(Mib::Icmp_OutMsgs), 1);
}

TEST(Icmp, PaddedEchoRequestIsAnsweredWithoutThePadding) {
  OneStack t;
  t.TeachPeer();
  Bytes f = EchoRequest(1, 1, {});
  f.resize(60, 0xee);
  t.Inject(f);
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].size(), 14u + 20 + 8);
}

TEST(Icmp, BadChecksumIsCountedAndNotAnswered) {
  OneStack t;
  t.TeachPeer();
  Bytes f = EchoRequest(1, 1, Bytes(8, 1));
  f.back() ^= 0xff;
  t.Inject(f);
  EXPECT_TRUE(t.Sent().empty());
  EXPECT_EQ(t.C(Mib::Icmp_InCsumErrors), 1);
  EXPECT_EQ(t.C(Mib::Icmp_InErrors), 1);
  EXPECT_EQ(t.C(Mib::Drop_ICMP_CSUM), 1);
}

TEST(Icmp, CorruptedOnTheWireIsCaughtByTheChecksum) {
  OneStack t;
  t.TeachPeer();
  t.wire().CorruptAt(WireDir::kBtoA, t.wire().sent(WireDir::kBtoA));  // last byte
  t.Inject(EchoRequest(1, 1, Bytes(8, 1)));
  EXPECT_EQ(t.C(Mib::Icmp_InCsumErrors), 1);
}

TEST(Icmp, ShortMessageIsAnError) {
  OneStack t;
  Ipv4Spec s;
  s.proto = IPPROTO_ICMP;
  s.payload = {8, 0, 0};
  t.Inject(Ipv4Frame(s));
  EXPECT_EQ(t.C(Mib::Icmp_InErrors), 1);
  EXPECT_EQ(t.C(Mib::Drop_ICMP_MALFORMED), 1);
}

TEST(Icmp, BroadcastEchoIsIgnoredLikeLinux) {
  OneStack t;
  t.Inject(EchoRequest(1, 1, {}, Ipv4Addr(10, 0, 0, 255), kBroadcastMac));
  EXPECT_TRUE(t.Sent().empty());
  EXPECT_EQ(t.C(Mib::Drop_ICMP_ECHO_IGNORED), 1);
}

TEST(Icmp, DestUnreachableIsRateLimited) {
  OneStack t;
  t.TeachPeer();
  Ipv4Spec s;
  s.proto = 200;
  for (int i = 0; i < 60; ++i) t.Inject(Ipv4Frame(s));
  EXPECT_EQ(t.Sent().size(), 50u);  // icmp_msgs_burst
  EXPECT_EQ(t.C(Mib::Icmp_OutRateLimitGlobal), 10);
  EXPECT_EQ(t.C(Mib::Drop_IP_NOPROTO), 60);
  t.Advance(10'000'000);  // 10 ms at 1000/s: 10 more tokens
  for (int i = 0; i < 20; ++i) t.Inject(Ipv4Frame(s));
  EXPECT_EQ(t.Sent().size(), 10u);
}

TEST(Icmp, ErrorsGoToTheProtocolThatSentThePacket) {
  OneStack t;
  std::vector<IcmpError> errors;
  std::vector<Bytes> l4;
  t.stack().RegisterIcmpErrorHandler(IPPROTO_TCP, [&](const IcmpError& e) {
    errors.push_back(e);
    l4.push_back(Bytes(e.inner_l4, e.inner_l4 + 8));
  });
  // A router tells us our TCP segment to 192.0.2.1 needs fragmenting.
  Ipv4Spec inner;
  inner.src = kIpA;
  inner.dst = Ipv4Addr(192, 0, 2, 1);
  inner.proto = IPPROTO_TCP;
  inner.payload = {0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4};
  Bytes in = Ipv4Frame(inner);
  Bytes msg(8 + in.size() - 14);
  msg[0] = kIcmpDestUnreach;
  msg[1] = kIcmpFragNeeded;
  msg[6] = 0x05;  // next-hop mtu 1280
  std::copy(in.begin() + 14, in.end(), msg.begin() + 8);
  const uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(msg.data(), msg.size()));
  std::memcpy(&msg[2], &c, 2);
  Ipv4Spec outer;
  outer.src = kIpGw;
  outer.proto = IPPROTO_ICMP;
  outer.payload = msg;
  t.Inject(Ipv4Frame(outer));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].type, kIcmpDestUnreach);
  EXPECT_EQ(errors[0].code, kIcmpFragNeeded);
  EXPECT_EQ(errors[0].mtu, 1280);
  EXPECT_EQ(errors[0].from, kIpGw);
  EXPECT_EQ(l4[0], inner.payload);
  EXPECT_EQ(t.C(Mib::Icmp_InDestUnreachs), 1);
}

// Two stacks, two reactors, one virtual clock, one wire.
class TwoStacks {
 public:
  explicit TwoStacks(uint64_t delay_ns = 0)
      : ra_(0, &clock_, &mib_a_),
        rb_(1, &clock_, &mib_b_),
        wire_(clock_, TestPool(), Config(delay_ns)),
        a_(ra_, wire_.a(), TestPool(), Cfg(kIpA)),
        b_(rb_, wire_.b(), TestPool(), Cfg(kIpB)) {
    a_.AttachToReactor();
    b_.AttachToReactor();
    wire_.SetWakeup(&ra_.timers(), kWakeKind);
  }
  static WireConfig Config(uint64_t delay_ns) {
    WireConfig c;
    c.a.mac = kMacA;
    c.b.mac = kMacB;
    c.delay_ns = delay_ns;
    return c;
  }
  static IpStackConfig Cfg(uint32_t ip) {
    IpStackConfig c;
    c.ip = ip;
    c.prefix_len = 24;
    return c;
  }
  void RunFor(uint64_t ns) { RunVirtualUntil(clock_, {&ra_, &rb_}, clock_.NowNs() + ns); }

  VirtualClock clock_{5'000'000'000};
  Counters mib_a_, mib_b_;
  Reactor ra_, rb_;
  Wire wire_;
  IpStack a_, b_;
};

TEST(Icmp, PingBetweenTwoStacksResolvesArpBothWays) {
  TwoStacks s(/*delay_ns=*/1'000'000);  // 1 ms one way
  std::vector<IcmpEchoReply> replies;
  std::vector<Bytes> payloads;
  std::vector<uint64_t> when;
  s.a_.icmp().SetEchoReplyHandler([&](const IcmpEchoReply& r) {
    replies.push_back(r);
    payloads.push_back(Bytes(r.payload, r.payload + r.payload_len));
    when.push_back(s.ra_.now_ns());
  });
  // No Start(): B's gratuitous ARP would resolve it for A (Linux updates
  // an INCOMPLETE entry from it too), and this test wants the full exchange.
  const Bytes data = {'d', 'p', 'x', '!', 0, 1, 2, 3};
  const uint64_t t0 = s.clock_.NowNs();
  EXPECT_EQ(s.a_.icmp().SendEcho(kIpB, 99, 1, data.data(), static_cast<uint16_t>(data.size())),
            TxStatus::kPending);
  s.RunFor(10'000'000);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].from, kIpB);
  EXPECT_EQ(replies[0].id, 99);
  EXPECT_EQ(replies[0].seq, 1);
  EXPECT_EQ(payloads[0], data);
  // ARP request + reply, then echo request + reply: four one-way trips.
  EXPECT_EQ(when[0] - t0, 4'000'000u);

  ArpEntryInfo info;
  ASSERT_TRUE(s.a_.arp().Lookup(kIpB, &info));
  EXPECT_EQ(info.state, NeighState::kReachable);
  EXPECT_TRUE(MacEqual(info.mac, kMacB));
  ASSERT_TRUE(s.b_.arp().Lookup(kIpA, &info));  // learned from A's request
  EXPECT_TRUE(MacEqual(info.mac, kMacA));
  EXPECT_EQ(s.mib_b_.Get(Mib::Icmp_InEchos), 1);
  EXPECT_EQ(s.mib_b_.Get(Mib::Icmp_OutEchoReps), 1);
  EXPECT_EQ(s.mib_a_.Get(Mib::Icmp_InEchoReps), 1);
  EXPECT_EQ(s.mib_a_.Get(Mib::Arp_OutRequests), 1);
  EXPECT_EQ(s.mib_b_.Get(Mib::Arp_OutReplies), 1);

  // A second ping needs no ARP: one round trip.
  const uint64_t t1 = s.clock_.NowNs();
  EXPECT_EQ(s.a_.icmp().SendEcho(kIpB, 99, 2, data.data(), 4), TxStatus::kQueued);
  s.RunFor(10'000'000);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1].seq, 2);
  EXPECT_EQ(when[1] - t1, 2'000'000u);
}

TEST(Icmp, PingSurvivesALostRequestOnlyByRetrying) {
  TwoStacks s;
  int replies = 0;
  s.a_.icmp().SetEchoReplyHandler([&](const IcmpEchoReply&) { ++replies; });
  // Frame 0 A->B is the ARP request: lost, so ARP retries after 1 s.
  s.wire_.DropAt(WireDir::kAtoB, 0);
  s.a_.icmp().SendEcho(kIpB, 1, 1, nullptr, 0);
  s.RunFor(500'000'000);
  EXPECT_EQ(replies, 0);
  s.RunFor(1'000'000'000);
  EXPECT_EQ(replies, 1);
  EXPECT_EQ(s.mib_a_.Get(Mib::Arp_OutRequests), 2);
}

}  // namespace
}  // namespace dpx::testing
