// ARP as an operator sees it: frames on the wire, entries, counters.
#include <gtest/gtest.h>

#include "net/arp.h"
#include "net_harness.h"

namespace dpx::testing {
namespace {

constexpr uint64_t kSec = 1'000'000'000;

bool IsArp(const Bytes& f, uint16_t op) {
  return f.size() >= 42 && EthType(f) == RTE_ETHER_TYPE_ARP &&
         rte_be_to_cpu_16(Arp(f)->arp_opcode) == op;
}

NeighState StateOf(OneStack& t, uint32_t ip) {
  ArpEntryInfo info;
  EXPECT_TRUE(t.stack().arp().Lookup(ip, &info)) << FormatIpv4(ip);
  return info.state;
}

// Sends one IPv4 packet from the stack to `dst` with a recognizable ID.
TxStatus SendTo(OneStack& t, uint32_t dst, uint16_t id) {
  Ipv4Tx tx;
  tx.dst = dst;
  tx.proto = 253;
  tx.id = id;
  return t.stack().SendIpv4(Payload(10), tx);
}

TEST(Arp, RepliesToRequestForOurAddress) {
  OneStack t;
  t.Inject(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpA));
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& r = out[0];
  ASSERT_TRUE(IsArp(r, RTE_ARP_OP_REPLY));
  EXPECT_TRUE(MacEqual(Eth(r)->dst_addr, kMacB));
  EXPECT_TRUE(MacEqual(Eth(r)->src_addr, kMacA));
  EXPECT_TRUE(MacEqual(Arp(r)->arp_data.arp_sha, kMacA));
  EXPECT_EQ(Arp(r)->arp_data.arp_sip, kIpA);
  EXPECT_TRUE(MacEqual(Arp(r)->arp_data.arp_tha, kMacB));
  EXPECT_EQ(Arp(r)->arp_data.arp_tip, kIpB);
  EXPECT_EQ(t.C(Mib::Arp_InRequests), 1);
  EXPECT_EQ(t.C(Mib::Arp_OutReplies), 1);
}

TEST(Arp, LearnsSenderOfRequestAsStaleAndUsesIt) {
  OneStack t;
  t.TeachPeer();
  ArpEntryInfo info;
  ASSERT_TRUE(t.stack().arp().Lookup(kIpB, &info));
  EXPECT_EQ(info.state, NeighState::kStale);
  EXPECT_TRUE(MacEqual(info.mac, kMacB));
  EXPECT_EQ(t.C(Mib::Arp_Entries), 1);

  // A packet goes straight out (no request); the entry waits for a
  // confirmation (DELAY) like Linux.
  EXPECT_EQ(SendTo(t, kIpB, 7), TxStatus::kQueued);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(EthType(out[0]), RTE_ETHER_TYPE_IPV4);
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kMacB));
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kDelay);
  EXPECT_EQ(t.C(Mib::Arp_OutRequests), 0);
}

// Several cores: the core that hears ARP reports it; another core's table
// takes it with Learn() and can send without resolving by itself.
TEST(Arp, LearnHookReportsAndLearnSharesWithAnotherTable) {
  OneStack heard;
  std::vector<std::pair<uint32_t, bool>> reported;
  rte_ether_addr reported_mac{};
  heard.stack().arp().SetLearnHook(
      [&](uint32_t ip, const rte_ether_addr& mac, bool confirmed) {
        reported.emplace_back(ip, confirmed);
        reported_mac = mac;
      });
  heard.TeachPeer();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].first, kIpB);
  EXPECT_FALSE(reported[0].second);  // a request is not a confirmation
  EXPECT_TRUE(MacEqual(reported_mac, kMacB));

  OneStack other;
  other.stack().arp().Learn(kIpB, reported_mac, reported[0].second);
  EXPECT_EQ(StateOf(other, kIpB), NeighState::kStale);
  EXPECT_EQ(SendTo(other, kIpB, 9), TxStatus::kQueued);
  other.Settle();
  auto out = other.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(EthType(out[0]), RTE_ETHER_TYPE_IPV4);
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kMacB));
  EXPECT_EQ(other.C(Mib::Arp_OutRequests), 0);
}

// A pinned neighbour (nud permanent) is never probed, aged or replaced.
TEST(Arp, PinnedEntryIsNeverProbedAgedOrReplaced) {
  OneStack t;
  EXPECT_FALSE(t.stack().arp().Pin(kIpB));  // nothing known yet
  t.TeachPeer();
  ASSERT_TRUE(t.stack().arp().Pin(kIpB));
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kPermanent);
  t.Advance(3'600'000'000'000);  // an hour: STALE, DELAY, PROBE would all have run
  EXPECT_EQ(SendTo(t, kIpB, 7), TxStatus::kQueued);
  t.Advance(10'000'000'000);
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kPermanent);
  EXPECT_EQ(t.C(Mib::Arp_OutRequests), 0);
  rte_ether_addr other = kMacB;
  other.addr_bytes[5] ^= 0xff;
  t.stack().arp().Learn(kIpB, other, true);  // what an ARP reply would teach
  EXPECT_EQ(SendTo(t, kIpB, 8), TxStatus::kQueued);
  t.Settle();
  auto out = t.Sent();
  ASSERT_FALSE(out.empty());
  EXPECT_TRUE(MacEqual(Eth(out.back())->dst_addr, kMacB));
}

TEST(Arp, RequestForAnotherHostIsNotAnsweredNorLearned) {
  OneStack t;
  t.Inject(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac,
                    Ipv4Addr(10, 0, 0, 77)));
  EXPECT_TRUE(t.Sent().empty());
  EXPECT_EQ(t.stack().arp().size(), 0u);
  EXPECT_EQ(t.C(Mib::Drop_ARP_NOT_FOR_US), 1);
}

TEST(Arp, UnsolicitedReplyCreatesNothing) {
  OneStack t;
  t.Inject(ArpFrame(RTE_ARP_OP_REPLY, kMacA, kMacB, kIpB, kMacA, kIpA));
  EXPECT_EQ(t.stack().arp().size(), 0u);
  EXPECT_EQ(t.C(Mib::Arp_InReplies), 1);
  EXPECT_EQ(t.C(Mib::Drop_ARP_UNSOLICITED), 1);
}

TEST(Arp, MalformedPacketsAreCounted) {
  OneStack t;
  Bytes bad = ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpA);
  bad[14 + 4] = 8;  // hlen
  t.Inject(bad);
  Bytes short_frame = ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpA);
  short_frame.resize(14 + 20);
  t.Inject(short_frame);
  Bytes op = ArpFrame(7, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpA);
  t.Inject(op);
  EXPECT_EQ(t.C(Mib::Drop_ARP_MALFORMED), 3);
  EXPECT_TRUE(t.Sent().empty());
}

TEST(Arp, AnswersDuplicateAddressProbe) {
  OneStack t;
  // RFC 5227 probe: sender IP 0.0.0.0.
  t.Inject(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, 0, kZeroMac, kIpA));
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(IsArp(out[0], RTE_ARP_OP_REPLY));
  EXPECT_EQ(Arp(out[0])->arp_data.arp_tip, 0u);
  EXPECT_EQ(t.stack().arp().size(), 0u);  // nothing learned from 0.0.0.0
}

TEST(Arp, ResolutionQueuesPacketsAndFlushesThemInOrder) {
  OneStack t;
  EXPECT_EQ(SendTo(t, kIpB, 1), TxStatus::kPending);
  EXPECT_EQ(SendTo(t, kIpB, 2), TxStatus::kPending);
  EXPECT_EQ(SendTo(t, kIpB, 3), TxStatus::kPending);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);  // one request, nothing else yet
  ASSERT_TRUE(IsArp(out[0], RTE_ARP_OP_REQUEST));
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kBroadcastMac));
  EXPECT_EQ(Arp(out[0])->arp_data.arp_tip, kIpB);
  EXPECT_EQ(Arp(out[0])->arp_data.arp_sip, kIpA);
  ArpEntryInfo info;
  ASSERT_TRUE(t.stack().arp().Lookup(kIpB, &info));
  EXPECT_EQ(info.state, NeighState::kIncomplete);
  EXPECT_EQ(info.queued, 3);

  t.Inject(ArpFrame(RTE_ARP_OP_REPLY, kMacA, kMacB, kIpB, kMacA, kIpA));
  out = t.Sent();
  ASSERT_EQ(out.size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(MacEqual(Eth(out[i])->dst_addr, kMacB));
    EXPECT_EQ(rte_be_to_cpu_16(Ip(out[i])->packet_id), i + 1);
  }
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kReachable);
  EXPECT_EQ(t.C(Mib::Arp_OutRequests), 1);
}

TEST(Arp, QueueOverflowDropsTheOldest) {
  IpStackConfig cfg = OneStack::DefaultConfig();
  cfg.arp.unres_qlen = 2;
  OneStack t(cfg);
  for (uint16_t id = 1; id <= 4; ++id) SendTo(t, kIpB, id);
  t.Settle();
  t.Sent();
  EXPECT_EQ(t.C(Mib::Drop_NEIGH_QUEUEFULL), 2);
  EXPECT_EQ(t.C(Mib::Arp_UnresolvedDiscards), 2);
  t.Inject(ArpFrame(RTE_ARP_OP_REPLY, kMacA, kMacB, kIpB, kMacA, kIpA));
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(rte_be_to_cpu_16(Ip(out[0])->packet_id), 3);
  EXPECT_EQ(rte_be_to_cpu_16(Ip(out[1])->packet_id), 4);
}

TEST(Arp, RetriesThenFailsAndDropsTheQueue) {
  OneStack t;
  SendTo(t, kIpB, 1);
  SendTo(t, kIpB, 2);
  t.Settle();
  EXPECT_EQ(t.Sent().size(), 1u);  // request 1 at t=0
  t.Advance(kSec);
  EXPECT_EQ(t.Sent().size(), 1u);  // request 2 at t=1s
  t.Advance(kSec);
  EXPECT_EQ(t.Sent().size(), 1u);  // request 3 at t=2s
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kIncomplete);
  EXPECT_EQ(t.C(Mib::Arp_ResFailed), 0);
  t.Advance(kSec);  // t=3s: no answer to mcast_solicit=3 requests
  EXPECT_TRUE(t.Sent().empty());
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kFailed);
  EXPECT_EQ(t.C(Mib::Arp_OutRequests), 3);
  EXPECT_EQ(t.C(Mib::Arp_ResFailed), 1);
  EXPECT_EQ(t.C(Mib::Drop_NEIGH_FAILED), 2);

  // The next packet starts a fresh resolution.
  EXPECT_EQ(SendTo(t, kIpB, 3), TxStatus::kPending);
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(IsArp(out[0], RTE_ARP_OP_REQUEST));
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kIncomplete);
}

TEST(Arp, FailedEntryIsCollected) {
  OneStack t;
  t.stack().arp().Resolve(kIpB);
  t.Advance(3 * kSec);
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kFailed);
  t.Advance(61 * kSec);
  EXPECT_EQ(t.stack().arp().size(), 0u);
  EXPECT_EQ(t.C(Mib::Arp_Entries), 0);
}

TEST(Arp, ReachableGoesStaleThenExpires) {
  OneStack t;
  SendTo(t, kIpB, 1);
  t.Settle();
  t.Inject(ArpFrame(RTE_ARP_OP_REPLY, kMacA, kMacB, kIpB, kMacA, kIpA));
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kReachable);
  t.Advance(29 * kSec);
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kReachable);
  t.Advance(2 * kSec);  // base_reachable_time 30 s
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kStale);
  t.Advance(61 * kSec);  // gc_stale_time 60 s unused
  ArpEntryInfo info;
  EXPECT_FALSE(t.stack().arp().Lookup(kIpB, &info));
  EXPECT_EQ(t.C(Mib::Arp_Entries), 0);
}

TEST(Arp, StaleEntryInUseIsProbedByUnicastThenFails) {
  OneStack t;
  t.TeachPeer();  // STALE
  SendTo(t, kIpB, 1);
  t.Settle();
  t.Sent();
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kDelay);
  t.Advance(5 * kSec);  // delay_first_probe_time
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(IsArp(out[0], RTE_ARP_OP_REQUEST));
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kMacB));  // unicast probe
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kProbe);
  t.Advance(2 * kSec);
  EXPECT_EQ(t.Sent().size(), 2u);  // ucast_solicit = 3 in all
  t.Advance(kSec);
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kFailed);
  EXPECT_EQ(t.C(Mib::Arp_ResFailed), 1);
}

TEST(Arp, ProbeAnsweredBecomesReachable) {
  OneStack t;
  t.TeachPeer();
  SendTo(t, kIpB, 1);
  t.Advance(5 * kSec);
  t.Sent();
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kProbe);
  t.Inject(ArpFrame(RTE_ARP_OP_REPLY, kMacA, kMacB, kIpB, kMacA, kIpA));
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kReachable);
}

TEST(Arp, GratuitousOnStartAndGatewayResolved) {
  OneStack t;
  t.stack().Start();
  t.Settle();
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 2u);
  ASSERT_TRUE(IsArp(out[0], RTE_ARP_OP_REQUEST));
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kBroadcastMac));
  EXPECT_EQ(Arp(out[0])->arp_data.arp_sip, kIpA);
  EXPECT_EQ(Arp(out[0])->arp_data.arp_tip, kIpA);
  EXPECT_EQ(t.C(Mib::Arp_OutGratuitous), 1);
  ASSERT_TRUE(IsArp(out[1], RTE_ARP_OP_REQUEST));
  EXPECT_EQ(Arp(out[1])->arp_data.arp_tip, kIpGw);
  EXPECT_EQ(StateOf(t, kIpGw), NeighState::kIncomplete);
}

TEST(Arp, NeighbourGratuitousArpResolvesAPendingEntry) {
  OneStack t;
  SendTo(t, kIpB, 1);
  t.Settle();
  t.Sent();
  // Linux arp_process updates an existing entry from any ARP of its owner.
  t.Inject(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, kMacB, kIpB, kZeroMac, kIpB));
  auto out = t.Sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(MacEqual(Eth(out[0])->dst_addr, kMacB));
  EXPECT_EQ(StateOf(t, kIpB), NeighState::kStale);
  // ... but a gratuitous ARP from a stranger creates nothing (arp_accept=0).
  t.Inject(ArpFrame(RTE_ARP_OP_REQUEST, kBroadcastMac, rte_ether_addr{{2, 0, 0, 0, 0, 0x33}},
                    Ipv4Addr(10, 0, 0, 33), kZeroMac, Ipv4Addr(10, 0, 0, 33)));
  EXPECT_EQ(t.stack().arp().size(), 1u);
}

TEST(Arp, TableFullRefusesNewNeighbours) {
  IpStackConfig cfg = OneStack::DefaultConfig();
  cfg.arp.capacity = 4;
  OneStack t(cfg);
  for (uint8_t i = 10; i < 14; ++i) SendTo(t, Ipv4Addr(10, 0, 0, i), i);
  EXPECT_EQ(t.stack().arp().size(), 4u);
  // All four are resolving (INCOMPLETE, packets waiting): none may go.
  EXPECT_EQ(SendTo(t, Ipv4Addr(10, 0, 0, 20), 20), TxStatus::kDropped);
  EXPECT_EQ(t.C(Mib::Arp_TableFulls), 1);
  EXPECT_EQ(t.C(Mib::Drop_NEIGH_CREATEFAIL), 1);
  EXPECT_EQ(t.stack().arp().size(), 4u);
}

TEST(Arp, FullTableEvictsAStaleEntry) {
  IpStackConfig cfg = OneStack::DefaultConfig();
  cfg.arp.capacity = 1;
  OneStack t(cfg);
  t.TeachPeer();  // kIpB STALE
  EXPECT_EQ(SendTo(t, Ipv4Addr(10, 0, 0, 20), 20), TxStatus::kPending);
  ArpEntryInfo info;
  EXPECT_FALSE(t.stack().arp().Lookup(kIpB, &info));
  EXPECT_EQ(t.C(Mib::Arp_TableFulls), 0);
}

TEST(Arp, ListShowsEntriesWithStateAndAge) {
  OneStack t;
  t.TeachPeer();
  t.stack().arp().Resolve(Ipv4Addr(10, 0, 0, 9));
  t.Advance(500'000'000);
  auto list = t.stack().arp().List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].ip, kIpB);
  EXPECT_EQ(list[0].state, NeighState::kStale);
  EXPECT_EQ(list[0].age_ns, 500'000'000u);
  EXPECT_EQ(list[1].ip, Ipv4Addr(10, 0, 0, 9));
  EXPECT_STREQ(NeighStateName(list[1].state), "INCOMPLETE");
}

}  // namespace
}  // namespace dpx::testing
