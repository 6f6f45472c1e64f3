#include "net/arp.h"

#include <algorithm>
#include <type_traits>

#include <rte_arp.h>
#include <rte_mbuf.h>

#include "core/log.h"
#include "core/reactor.h"
#include "net/ipv4_addr.h"
#include "net/tx_buffer.h"

namespace dpx {

namespace {
constexpr uint16_t kArpLen = sizeof(rte_arp_hdr);  // 28

bool Valid(NeighState s) {
  return s == NeighState::kReachable || s == NeighState::kStale || s == NeighState::kDelay ||
         s == NeighState::kProbe || s == NeighState::kPermanent;
}
}  // namespace

const char* NeighStateName(NeighState s) {
  switch (s) {
    case NeighState::kIncomplete: return "INCOMPLETE";
    case NeighState::kReachable: return "REACHABLE";
    case NeighState::kPermanent: return "PERMANENT";
    case NeighState::kStale: return "STALE";
    case NeighState::kDelay: return "DELAY";
    case NeighState::kProbe: return "PROBE";
    case NeighState::kFailed: return "FAILED";
  }
  return "?";
}

ArpTable::ArpTable(Reactor& reactor, TxBuffer& tx, rte_mempool* pool, const ArpConfig& config)
    : reactor_(reactor), tx_(tx), pool_(pool), cfg_(config) {
  if (cfg_.capacity == 0) cfg_.capacity = 1;
  if (cfg_.timer_kind >= TimerWheel::kMaxKinds) cfg_.timer_kind = TimerWheel::kMaxKinds - 1;
  entries_.resize(cfg_.capacity);
  free_.reserve(cfg_.capacity);
  for (uint32_t i = cfg_.capacity; i-- > 0;) free_.push_back(i);
  queue_.assign(static_cast<size_t>(cfg_.capacity) * cfg_.unres_qlen, nullptr);
  // Room for every entry plus tombstones, so inserts never allocate.
  index_.reserve(static_cast<size_t>(cfg_.capacity) * 2);
  for (Entry& e : entries_) e.timer.kind = cfg_.timer_kind;
  reactor_.timers().SetHandler(cfg_.timer_kind, &ArpTable::OnTimer, this);
}

ArpTable::~ArpTable() {
  for (Entry& e : entries_) {
    if (!e.in_use) continue;
    reactor_.timers().Cancel(&e.timer);
    for (uint16_t i = 0; i < e.qlen; ++i) rte_pktmbuf_free(QueueSlot(&e, i));
  }
}

uint64_t ArpTable::now() const { return reactor_.now_ns(); }

ArpTable::Entry* ArpTable::Find(uint32_t ip) {
  if (ip == last_ip_ && last_idx_ != UINT32_MAX) return &entries_[last_idx_];
  auto it = index_.find(ip);
  if (it == index_.end()) return nullptr;
  last_ip_ = ip;
  last_idx_ = it->second;
  return &entries_[it->second];
}

const ArpTable::Entry* ArpTable::Find(uint32_t ip) const {
  auto it = index_.find(ip);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

ArpTable::Entry* ArpTable::Create(uint32_t ip) {
  if (free_.empty() && !EvictOne()) {
    // Linux neigh_alloc past gc_thresh3: "neighbour table overflow".
    reactor_.mib().Inc(Mib::Arp_TableFulls);
    return nullptr;
  }
  const uint32_t idx = free_.back();
  free_.pop_back();
  Entry& e = entries_[idx];
  e.ip = ip;
  e.mac = kZeroMac;
  e.state = NeighState::kFailed;
  e.probes = 0;
  e.in_use = true;
  e.qhead = e.qlen = 0;
  e.confirmed_ns = e.used_ns = now();
  index_.emplace(ip, idx);
  reactor_.mib().Inc(Mib::Arp_Entries);
  return &e;
}

// Like Linux neigh_forced_gc: only entries nobody waits on may go, FAILED
// first, then the STALE entry idle the longest.
bool ArpTable::EvictOne() {
  Entry* victim = nullptr;
  for (Entry& e : entries_) {
    if (!e.in_use) continue;
    if (e.state == NeighState::kFailed) {
      victim = &e;
      break;
    }
    if (e.state == NeighState::kStale && (victim == nullptr || e.used_ns < victim->used_ns))
      victim = &e;
  }
  if (victim == nullptr) return false;
  Remove(victim);
  return true;
}

void ArpTable::Remove(Entry* e) {
  reactor_.timers().Cancel(&e->timer);
  for (uint16_t i = 0; i < e->qlen; ++i) {
    rte_pktmbuf_free(QueueSlot(e, i));
    reactor_.mib().Inc(Mib::Drop_NEIGH_FAILED);
  }
  e->qlen = e->qhead = 0;
  e->in_use = false;
  index_.erase(e->ip);
  if (e->ip == last_ip_) last_idx_ = UINT32_MAX;
  free_.push_back(static_cast<uint32_t>(e - entries_.data()));
  reactor_.mib().Dec(Mib::Arp_Entries);
}

void ArpTable::ArmIn(Entry* e, uint64_t delay_ns) {
  reactor_.timers().Arm(&e->timer, now() + delay_ns);
}

void ArpTable::OnTimer(Timer* t, void* ctx) {
  static_assert(std::is_standard_layout_v<Entry>);
  static_cast<ArpTable*>(ctx)->Expire(reinterpret_cast<Entry*>(t));
}

// Linux neigh_timer_handler, with the garbage collection of
// neigh_periodic_work folded in (one timer per entry).
void ArpTable::Expire(Entry* e) {
  const uint64_t t = now();
  switch (e->state) {
    case NeighState::kPermanent:
      return;  // never aged
    case NeighState::kIncomplete:
      if (e->probes >= cfg_.mcast_solicit) {
        Fail(e);
      } else {
        SendRequest(e, /*unicast=*/false);
        ArmIn(e, cfg_.retrans_time_ns);
      }
      break;
    case NeighState::kReachable:
      e->state = NeighState::kStale;
      ArmIn(e, cfg_.gc_stale_time_ns);
      break;
    case NeighState::kStale:
      if (t - e->used_ns >= cfg_.gc_stale_time_ns) {
        Remove(e);
      } else {
        reactor_.timers().Arm(&e->timer, e->used_ns + cfg_.gc_stale_time_ns);
      }
      break;
    case NeighState::kDelay:
      // No confirmation since the entry went stale and was used: probe.
      e->state = NeighState::kProbe;
      e->probes = 0;
      [[fallthrough]];
    case NeighState::kProbe:
      if (e->probes >= cfg_.ucast_solicit) {
        Fail(e);
      } else {
        SendRequest(e, /*unicast=*/true);
        ArmIn(e, cfg_.retrans_time_ns);
      }
      break;
    case NeighState::kFailed:
      Remove(e);
      break;
  }
}

// Linux neigh_invalidate: queued packets are dropped, the entry stays
// FAILED (visible to operators) until collected or used again.
void ArpTable::Fail(Entry* e) {
  reactor_.mib().Inc(Mib::Arp_ResFailed);
  for (uint16_t i = 0; i < e->qlen; ++i) {
    rte_pktmbuf_free(QueueSlot(e, i));
    reactor_.mib().Inc(Mib::Drop_NEIGH_FAILED);
  }
  e->qlen = e->qhead = 0;
  e->state = NeighState::kFailed;
  e->mac = kZeroMac;
  ArmIn(e, cfg_.gc_stale_time_ns);
}

void ArpTable::StartResolve(Entry* e) {
  e->state = NeighState::kIncomplete;
  e->probes = 0;
  SendRequest(e, /*unicast=*/false);
  ArmIn(e, cfg_.retrans_time_ns);
}

void ArpTable::Update(Entry* e, const rte_ether_addr& mac, NeighState state) {
  const NeighState old = e->state;
  if (old == NeighState::kPermanent) return;  // neigh_update: only an admin changes it
  // Linux neigh_update: a same-address STALE update leaves a valid entry's
  // state alone (a request from a neighbour does not demote REACHABLE).
  if (Valid(old) && MacEqual(mac, e->mac) && state == NeighState::kStale) return;
  e->mac = mac;
  e->state = state;
  e->probes = 0;
  e->confirmed_ns = now();
  if (state == NeighState::kReachable) {
    ArmIn(e, cfg_.base_reachable_time_ns);
  } else {
    ArmIn(e, cfg_.gc_stale_time_ns);
  }
  if (e->qlen > 0) FlushQueue(e);
}

void ArpTable::Enqueue(Entry* e, rte_mbuf* frame) {
  if (cfg_.unres_qlen == 0) {
    rte_pktmbuf_free(frame);
    reactor_.mib().Inc(Mib::Drop_NEIGH_QUEUEFULL);
    reactor_.mib().Inc(Mib::Arp_UnresolvedDiscards);
    return;
  }
  if (e->qlen == cfg_.unres_qlen) {
    // Linux __neigh_event_send drops the oldest queued packet.
    rte_pktmbuf_free(QueueSlot(e, 0));
    e->qhead = static_cast<uint16_t>((e->qhead + 1) % cfg_.unres_qlen);
    --e->qlen;
    reactor_.mib().Inc(Mib::Drop_NEIGH_QUEUEFULL);
    reactor_.mib().Inc(Mib::Arp_UnresolvedDiscards);
  }
  QueueSlot(e, e->qlen) = frame;
  ++e->qlen;
}

void ArpTable::FlushQueue(Entry* e) {
  for (uint16_t i = 0; i < e->qlen; ++i) SendFrame(QueueSlot(e, i), e->mac);
  e->qlen = e->qhead = 0;
}

void ArpTable::SendFrame(rte_mbuf* frame, const rte_ether_addr& dst) {
  rte_pktmbuf_mtod(frame, rte_ether_hdr*)->dst_addr = dst;
  tx_.Push(frame);
}

void ArpTable::SendArp(uint16_t op, const rte_ether_addr& eth_dst, const rte_ether_addr& tha,
                       uint32_t tip, uint32_t sip) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    reactor_.mib().Inc(Mib::Drop_NOMEM);
    return;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, kEthHdrLen + kArpLen));
  eth->dst_addr = eth_dst;
  eth->src_addr = mac_;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = RTE_ETHER_ADDR_LEN;
  arp->arp_plen = 4;
  arp->arp_opcode = rte_cpu_to_be_16(op);
  arp->arp_data.arp_sha = mac_;
  arp->arp_data.arp_sip = sip;
  arp->arp_data.arp_tha = tha;
  arp->arp_data.arp_tip = tip;
  tx_.Push(m);
}

void ArpTable::SendRequest(Entry* e, bool unicast) {
  ++e->probes;
  SendArp(RTE_ARP_OP_REQUEST, unicast ? e->mac : kBroadcastMac, kZeroMac, e->ip, ip_);
  reactor_.mib().Inc(Mib::Arp_OutRequests);
}

void ArpTable::SendGratuitous() {
  // Linux arp_send(ARPOP_REQUEST, ..., ifa_local, dev, ifa_local, NULL, ...)
  // on NETDEV_UP: a broadcast request for our own address.
  SendArp(RTE_ARP_OP_REQUEST, kBroadcastMac, kZeroMac, ip_, ip_);
  reactor_.mib().Inc(Mib::Arp_OutGratuitous);
}

void ArpTable::Resolve(uint32_t ip) {
  Entry* e = Find(ip);
  if (e == nullptr) {
    e = Create(ip);
    if (e == nullptr) return;
  } else if (e->state != NeighState::kFailed) {
    return;  // resolving or resolved
  }
  StartResolve(e);
}

TxStatus ArpTable::Output(uint32_t nexthop, rte_mbuf* frame) {
  Entry* e = Find(nexthop);
  if (e == nullptr) {
    e = Create(nexthop);
    if (e == nullptr) {
      rte_pktmbuf_free(frame);
      reactor_.mib().Inc(Mib::Drop_NEIGH_CREATEFAIL);
      return TxStatus::kDropped;
    }
    StartResolve(e);
    Enqueue(e, frame);
    return TxStatus::kPending;
  }
  e->used_ns = now();
  switch (e->state) {
    case NeighState::kReachable:
    case NeighState::kDelay:
    case NeighState::kProbe:
    case NeighState::kPermanent:
      SendFrame(frame, e->mac);
      return TxStatus::kQueued;
    case NeighState::kStale:
      // Linux __neigh_event_send: use it, and give the neighbour
      // delay_first_probe_time to confirm before probing.
      SendFrame(frame, e->mac);
      e->state = NeighState::kDelay;
      ArmIn(e, cfg_.delay_first_probe_time_ns);
      return TxStatus::kQueued;
    case NeighState::kFailed:
      StartResolve(e);
      [[fallthrough]];
    case NeighState::kIncomplete:
      Enqueue(e, frame);
      return TxStatus::kPending;
  }
  rte_pktmbuf_free(frame);
  return TxStatus::kDropped;
}

// Linux arp_process, without proxy ARP and with arp_accept = 0.
void ArpTable::Input(rte_mbuf* m, PktType pkt_type) {
  Counters& mib = reactor_.mib();
  if (rte_pktmbuf_data_len(m) < kArpLen) {
    mib.Inc(Mib::Drop_ARP_MALFORMED);
    rte_pktmbuf_free(m);
    return;
  }
  const auto* arp = rte_pktmbuf_mtod(m, const rte_arp_hdr*);
  const uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
  if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
      arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
      arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
      (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)) {
    mib.Inc(Mib::Drop_ARP_MALFORMED);
    rte_pktmbuf_free(m);
    return;
  }
  mib.Inc(op == RTE_ARP_OP_REQUEST ? Mib::Arp_InRequests : Mib::Arp_InReplies);
  const rte_ether_addr sha = arp->arp_data.arp_sha;
  const uint32_t sip = arp->arp_data.arp_sip;
  const uint32_t tip = arp->arp_data.arp_tip;
  rte_pktmbuf_free(m);

  if (Ipv4IsMulticast(tip) || Ipv4IsLoopback(tip) || Ipv4IsMulticast(sip) ||
      Ipv4IsLoopback(sip) || sip == kIpv4Broadcast || rte_is_multicast_ether_addr(&sha) ||
      rte_is_zero_ether_addr(&sha)) {
    mib.Inc(Mib::Drop_ARP_MALFORMED);
    return;
  }
  if (MacEqual(sha, mac_)) {  // our own frame, looped back
    mib.Inc(Mib::Drop_ARP_NOT_FOR_US);
    return;
  }
  if (sip == 0) {
    // RFC 5227 probe (duplicate address detection): answer if it is ours.
    if (op == RTE_ARP_OP_REQUEST && tip == ip_ && ip_ != 0) {
      SendArp(RTE_ARP_OP_REPLY, sha, sha, sip, ip_);
      mib.Inc(Mib::Arp_OutReplies);
    } else {
      mib.Inc(Mib::Drop_ARP_NOT_FOR_US);
    }
    return;
  }
  if (sip == ip_) {
    if (conflict_log_.Allow(now()))
      DPX_LOG_WARN("arp: %s claims our address %s", FormatMac(sha), FormatIpv4(ip_));
    // Defend the address below if it was a request for it; learn nothing.
  }

  if (op == RTE_ARP_OP_REQUEST && tip == ip_ && ip_ != 0) {
    // neigh_event_ns(): the sender of a request for us is a neighbour.
    if (sip != ip_) {
      Entry* e = Find(sip);
      if (e == nullptr) e = Create(sip);
      if (e != nullptr) Update(e, sha, NeighState::kStale);
      if (learn_hook_) learn_hook_(sip, sha, false);
    }
    SendArp(RTE_ARP_OP_REPLY, sha, sha, sip, ip_);
    mib.Inc(Mib::Arp_OutReplies);
    return;
  }

  // Anything else only refreshes an entry we already have (arp_accept=0).
  Entry* e = sip == ip_ ? nullptr : Find(sip);
  if (e != nullptr) {
    const bool confirmed = op == RTE_ARP_OP_REPLY && pkt_type == PktType::kHost;
    Update(e, sha, confirmed ? NeighState::kReachable : NeighState::kStale);
    if (learn_hook_) learn_hook_(sip, sha, confirmed);
    return;
  }
  mib.Inc(op == RTE_ARP_OP_REPLY ? Mib::Drop_ARP_UNSOLICITED : Mib::Drop_ARP_NOT_FOR_US);
}

bool ArpTable::Pin(uint32_t ip) {
  Entry* e = Find(ip);
  if (e == nullptr || !Valid(e->state)) return false;
  e->state = NeighState::kPermanent;
  e->probes = 0;
  reactor_.timers().Cancel(&e->timer);
  return true;
}

void ArpTable::Learn(uint32_t ip, const rte_ether_addr& mac, bool confirmed) {
  if (ip == 0 || ip == ip_) return;
  Entry* e = Find(ip);
  if (e == nullptr) e = Create(ip);
  if (e != nullptr) Update(e, mac, confirmed ? NeighState::kReachable : NeighState::kStale);
}

bool ArpTable::Lookup(uint32_t ip, ArpEntryInfo* out) const {
  const Entry* e = Find(ip);
  if (e == nullptr) return false;
  const uint64_t t = now();
  *out = ArpEntryInfo{e->ip,
                      e->mac,
                      e->state,
                      t - e->confirmed_ns,
                      t - e->used_ns,
                      e->qlen,
                      e->probes};
  return true;
}

std::vector<ArpEntryInfo> ArpTable::List() const {
  std::vector<ArpEntryInfo> out;
  out.reserve(index_.size());
  for (const auto& [ip, idx] : index_) {
    ArpEntryInfo info;
    if (Lookup(ip, &info)) out.push_back(info);
  }
  std::sort(out.begin(), out.end(), [](const ArpEntryInfo& a, const ArpEntryInfo& b) {
    return Ipv4ToHost(a.ip) < Ipv4ToHost(b.ip);
  });
  return out;
}

}  // namespace dpx
