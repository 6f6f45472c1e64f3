// ARP (RFC 826) and the neighbour table, modelled on Linux's neigh/arp:
// states INCOMPLETE, REACHABLE, STALE, DELAY, PROBE, FAILED; a bounded
// table; a bounded per-entry queue of packets waiting for resolution
// (Linux unres_qlen); broadcast retries then FAILED; learning the sender
// from requests addressed to us (Linux arp_process); gratuitous ARP.
// Timers (retransmit, reachable->stale, probe, garbage collection) run on
// the reactor's timer wheel, one intrusive Timer per entry.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <rte_ether.h>

#include "absl/container/flat_hash_map.h"
#include "core/log.h"
#include "core/timer_kinds.h"
#include "core/timer_wheel.h"
#include "net/ethernet.h"
#include "net/ipv4.h"

struct rte_mbuf;
struct rte_mempool;

namespace dpx {

class Reactor;
class TxBuffer;

enum class NeighState : uint8_t {
  kIncomplete,  // request sent, no answer yet; packets queue
  kReachable,   // confirmed within reachable_time
  kStale,       // usable, unconfirmed; first use moves it to DELAY
  kDelay,       // used while stale; waits delay_first_probe_time for a confirmation
  kProbe,       // unicast probes; no answer after ucast_solicit -> FAILED
  kFailed,      // resolution failed; the next packet starts over
  kPermanent,   // set by hand (Pin), never probed or aged (NUD_PERMANENT)
};
// "REACHABLE", as `ip neigh` prints it.
const char* NeighStateName(NeighState s);

// Defaults are Linux's net.ipv4.neigh.default.* (base_reachable_time is
// used as is: Linux randomises it to 0.5..1.5x, dpx stays deterministic).
struct ArpConfig {
  uint32_t capacity = 1024;       // gc_thresh3: the most entries the table holds
  uint16_t unres_qlen = 101;      // packets queued per unresolved entry
  uint8_t mcast_solicit = 3;      // broadcast requests before FAILED
  uint8_t ucast_solicit = 3;      // unicast probes before FAILED
  uint64_t retrans_time_ns = 1'000'000'000;
  uint64_t base_reachable_time_ns = 30'000'000'000;
  uint64_t delay_first_probe_time_ns = 5'000'000'000;
  uint64_t gc_stale_time_ns = 60'000'000'000;  // unused STALE/FAILED entries go after this
  uint16_t timer_kind = timer_kind::kArpFirst;  // + port index (core/timer_kinds.h)
};

// One entry as an operator sees it (`ip neigh`).
struct ArpEntryInfo {
  uint32_t ip;  // network order
  rte_ether_addr mac;
  NeighState state;
  uint64_t age_ns;    // since last confirmation (or creation)
  uint64_t idle_ns;   // since last used to send
  uint16_t queued;    // packets waiting (INCOMPLETE)
  uint8_t probes;     // requests sent in the current resolution/probe
};

class ArpTable {
 public:
  ArpTable(Reactor& reactor, TxBuffer& tx, rte_mempool* pool, const ArpConfig& config);
  ~ArpTable();  // frees queued packets
  ArpTable(const ArpTable&) = delete;
  ArpTable& operator=(const ArpTable&) = delete;

  void SetAddress(uint32_t ip, const rte_ether_addr& mac) {
    ip_ = ip;
    mac_ = mac;
  }

  // A received ARP packet: data at the ARP header, Ethernet already
  // stripped; `pkt_type` says how it was addressed. Takes ownership.
  void Input(rte_mbuf* m, PktType pkt_type);

  // Sends an Ethernet frame (header in place, destination to be filled)
  // to the neighbour `nexthop`: at once when resolved, else queued while
  // resolving (oldest dropped on overflow, Drop.NEIGH_QUEUEFULL and
  // Arp.UnresolvedDiscards). Takes ownership.
  TxStatus Output(uint32_t nexthop, rte_mbuf* frame);

  // Gratuitous ARP (a request for our own address, like Linux on link up).
  void SendGratuitous();
  // Starts resolving `ip` without a packet (the gateway at start).
  void Resolve(uint32_t ip);
  // Makes a resolved entry permanent (`ip neigh replace ... nud permanent`):
  // no more probes, no ageing, ARP input cannot change it. False when `ip`
  // has no address yet.
  bool Pin(uint32_t ip);

  // Several cores: ARP frames carry no flow hash, so they reach one queue
  // and one core's table. That core reports what an ARP packet taught it
  // through `hook` (ip, mac, confirmed by a reply to us), and the others
  // apply it with Learn(), so every core can reach every neighbour.
  using LearnHook = std::function<void(uint32_t ip, const rte_ether_addr& mac, bool confirmed)>;
  void SetLearnHook(LearnHook hook) { learn_hook_ = std::move(hook); }
  void Learn(uint32_t ip, const rte_ether_addr& mac, bool confirmed);

  bool Lookup(uint32_t ip, ArpEntryInfo* out) const;
  std::vector<ArpEntryInfo> List() const;  // not for the data path
  size_t size() const { return index_.size(); }
  const ArpConfig& config() const { return cfg_; }

 private:
  struct Entry {
    Timer timer;  // first member: the timer handler recovers the Entry
    uint32_t ip = 0;
    rte_ether_addr mac{};
    NeighState state = NeighState::kFailed;
    uint8_t probes = 0;
    bool in_use = false;
    uint16_t qhead = 0;
    uint16_t qlen = 0;
    uint64_t confirmed_ns = 0;
    uint64_t used_ns = 0;
  };

  static void OnTimer(Timer* t, void* ctx);
  void Expire(Entry* e);
  Entry* Find(uint32_t ip);
  const Entry* Find(uint32_t ip) const;
  Entry* Create(uint32_t ip);
  void Remove(Entry* e);
  bool EvictOne();
  // Sets a valid address and state; flushes queued packets when it
  // becomes usable (Linux neigh_update).
  void Update(Entry* e, const rte_ether_addr& mac, NeighState state);
  void Fail(Entry* e);
  void Enqueue(Entry* e, rte_mbuf* frame);
  void FlushQueue(Entry* e);
  void SendFrame(rte_mbuf* frame, const rte_ether_addr& dst);
  void SendArp(uint16_t op, const rte_ether_addr& eth_dst, const rte_ether_addr& tha,
               uint32_t tip, uint32_t sip);
  void SendRequest(Entry* e, bool unicast);
  void StartResolve(Entry* e);
  void ArmIn(Entry* e, uint64_t delay_ns);
  rte_mbuf*& QueueSlot(const Entry* e, uint16_t i) {
    return queue_[static_cast<size_t>(e - entries_.data()) * cfg_.unres_qlen +
                  (e->qhead + i) % cfg_.unres_qlen];
  }
  uint64_t now() const;

  Reactor& reactor_;
  TxBuffer& tx_;
  rte_mempool* pool_;
  ArpConfig cfg_;
  uint32_t ip_ = 0;
  rte_ether_addr mac_{};
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;           // indexes of unused entries
  std::vector<rte_mbuf*> queue_;         // capacity * unres_qlen slots
  absl::flat_hash_map<uint32_t, uint32_t> index_;  // ip -> entry index
  // The last entry found: traffic goes to a few neighbours (the gateway),
  // so most sends skip the hash (Linux keeps the neighbour in the dst).
  uint32_t last_ip_ = 0;
  uint32_t last_idx_ = UINT32_MAX;
  RateLimit conflict_log_{10'000'000'000, 5};
  LearnHook learn_hook_;
};

}  // namespace dpx
