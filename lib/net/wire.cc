#include "net/wire.h"

#include <algorithm>
#include <cstring>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "net/checksum.h"

namespace dpx {

const char* WireDirName(WireDir d) { return d == WireDir::kAtoB ? "A>B" : "B>A"; }

const char* WireFateName(WireFate f) {
  switch (f) {
    case WireFate::kPassed: return "passed";
    case WireFate::kDropped: return "dropped";
    case WireFate::kDuplicated: return "duplicated";
    case WireFate::kReordered: return "reordered";
    case WireFate::kCorrupted: return "corrupted";
    case WireFate::kDelayed: return "delayed";
    case WireFate::kLost: return "lost";
  }
  return "?";
}

class Wire::End final : public Netif {
 public:
  End(Wire& wire, WireDir out, const WireEndConfig& cfg) : wire_(wire), out_(out), cfg_(cfg) {}
  uint16_t RxBurst(rte_mbuf** pkts, uint16_t n) override {
    const WireDir in = out_ == WireDir::kAtoB ? WireDir::kBtoA : WireDir::kAtoB;
    return wire_.Receive(in, pkts, n, cfg_.rx_offloads);
  }
  uint16_t TxBurst(rte_mbuf** pkts, uint16_t n) override {
    uint16_t room = n;
    if (cfg_.tx_capacity != 0) {
      const size_t busy = wire_.in_flight(out_);
      room = busy >= cfg_.tx_capacity
                 ? 0
                 : static_cast<uint16_t>(std::min<size_t>(n, cfg_.tx_capacity - busy));
    }
    return wire_.Send(out_, pkts, room);
  }
  rte_ether_addr mac() const override { return cfg_.mac; }
  uint16_t mtu() const override { return cfg_.mtu; }
  uint64_t tx_offloads() const override { return cfg_.tx_offloads; }
  uint64_t rx_offloads() const override { return cfg_.rx_offloads; }
  bool link_up() const override { return wire_.link_up_[static_cast<int>(out_)]; }

  // Does what a NIC would for the offloads this end advertises.
  void ApplyTxOffloads(rte_mbuf* m) const {
    const uint64_t f = m->ol_flags;
    if (!(f & RTE_MBUF_F_TX_IPV4) || m->l3_len < sizeof(rte_ipv4_hdr)) return;
    if (rte_pktmbuf_data_len(m) < m->l2_len + m->l3_len) return;
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, m->l2_len);
    if ((f & RTE_MBUF_F_TX_IP_CKSUM) && (cfg_.tx_offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)) {
      ip->hdr_checksum = 0;
      ip->hdr_checksum = rte_ipv4_cksum(ip);
    }
    const uint64_t l4 = f & RTE_MBUF_F_TX_L4_MASK;
    const uint32_t l4_off = m->l2_len + m->l3_len;
    const uint16_t l4_len =
        static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - m->l3_len);
    uint32_t field_off = 0;
    if (l4 == RTE_MBUF_F_TX_TCP_CKSUM && (cfg_.tx_offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM))
      field_off = 16;
    else if (l4 == RTE_MBUF_F_TX_UDP_CKSUM && (cfg_.tx_offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM))
      field_off = 6;
    if (field_off == 0 || rte_pktmbuf_data_len(m) < l4_off + field_off + 2) return;
    // The stack left the pseudo-header sum in the field: zero it and
    // compute the real checksum, as the NIC does.
    auto* field = rte_pktmbuf_mtod_offset(m, uint16_t*, l4_off + field_off);
    *field = 0;
    *field = Ipv4L4Cksum(m, l4_off, ip->src_addr, ip->dst_addr, ip->next_proto_id, l4_len);
  }

 private:
  Wire& wire_;
  WireDir out_;
  WireEndConfig cfg_;
};

Wire::Wire(const Clock& clock, rte_mempool* pool, const WireConfig& config)
    : clock_(clock), pool_(pool), delay_ns_(config.delay_ns), capture_on_(config.capture) {
  ends_[0] = std::make_unique<End>(*this, WireDir::kAtoB, config.a);
  ends_[1] = std::make_unique<End>(*this, WireDir::kBtoA, config.b);
}

Wire::~Wire() {
  if (wheel_ != nullptr) wheel_->Cancel(&wake_);
  for (int d = 0; d < 2; ++d) {
    for (auto& [t, m] : flight_[d]) rte_pktmbuf_free(m);
    if (held_[d] != nullptr) rte_pktmbuf_free(held_[d]);
  }
}

Netif& Wire::a() { return *ends_[0]; }
Netif& Wire::b() { return *ends_[1]; }

void Wire::AddRule(WireRule rule) { rules_.push_back(std::move(rule)); }
void Wire::ClearRules() { rules_.clear(); }

void Wire::DropAt(WireDir dir, uint64_t index) {
  AddRule(WireRule{dir, WireAction::kDrop, static_cast<int64_t>(index), nullptr, 1, -1, 0});
}
void Wire::DuplicateAt(WireDir dir, uint64_t index) {
  AddRule(WireRule{dir, WireAction::kDuplicate, static_cast<int64_t>(index), nullptr, 1, -1, 0});
}
void Wire::ReorderAt(WireDir dir, uint64_t index) {
  AddRule(WireRule{dir, WireAction::kReorder, static_cast<int64_t>(index), nullptr, 1, -1, 0});
}
void Wire::CorruptAt(WireDir dir, uint64_t index, int32_t offset) {
  AddRule(WireRule{dir, WireAction::kCorrupt, static_cast<int64_t>(index), nullptr, 1, offset, 0});
}
void Wire::DelayAt(WireDir dir, uint64_t index, uint64_t extra_ns) {
  AddRule(WireRule{dir, WireAction::kDelay, static_cast<int64_t>(index), nullptr, 1, -1, extra_ns});
}

void Wire::SetRandom(double loss, double reorder, uint64_t seed) {
  loss_ = loss;
  reorder_ = reorder;
  rng_.seed(seed);
}

void Wire::set_link_up(WireDir from, bool up) { link_up_[static_cast<int>(from)] = up; }

void Wire::ReleaseHeld(WireDir dir) {
  const int d = static_cast<int>(dir);
  if (held_[d] == nullptr) return;
  Enqueue(dir, held_[d], clock_.NowNs() + delay_ns_);
  held_[d] = nullptr;
}

void Wire::Enqueue(WireDir dir, rte_mbuf* m, uint64_t at_ns) {
  flight_[static_cast<int>(dir)].emplace(at_ns, m);
  ArmWakeup();
}

uint16_t Wire::Send(WireDir dir, rte_mbuf** pkts, uint16_t n) {
  const int d = static_cast<int>(dir);
  const uint64_t now = clock_.NowNs();
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    ends_[d]->ApplyTxOffloads(m);
    const uint64_t index = sent_[d]++;

    // The first rule that matches decides.
    WireFate fate = WireFate::kPassed;
    const WireRule* hit = nullptr;
    for (auto it = rules_.begin(); it != rules_.end(); ++it) {
      if (it->dir != dir || it->times == 0) continue;
      const bool match = it->index >= 0 ? static_cast<uint64_t>(it->index) == index
                                        : (it->match && it->match(m, index));
      if (!match) continue;
      --it->times;
      hit = &*it;
      break;
    }
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (!link_up_[d]) {
      fate = WireFate::kLost;
    } else if (hit != nullptr) {
      switch (hit->action) {
        case WireAction::kDrop: fate = WireFate::kDropped; break;
        case WireAction::kDuplicate: fate = WireFate::kDuplicated; break;
        case WireAction::kReorder: fate = WireFate::kReordered; break;
        case WireAction::kCorrupt: fate = WireFate::kCorrupted; break;
        case WireAction::kDelay: fate = WireFate::kDelayed; break;
      }
    } else if (loss_ > 0 && coin(rng_) < loss_) {
      fate = WireFate::kLost;
    } else if (reorder_ > 0 && coin(rng_) < reorder_) {
      fate = WireFate::kReordered;
    }

    if (capture_on_) {
      WireFrame f{dir, index, now, fate, std::vector<uint8_t>(rte_pktmbuf_pkt_len(m))};
      if (!f.bytes.empty()) {
        const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(f.bytes.size()), f.bytes.data());
        if (p != f.bytes.data()) std::memcpy(f.bytes.data(), p, f.bytes.size());
      }
      capture_.push_back(std::move(f));
    }

    // What arrives: the frame looks freshly received (no offload flags).
    m->ol_flags &= (RTE_MBUF_F_EXTERNAL | RTE_MBUF_F_INDIRECT);
    m->l2_len = m->l3_len = m->l4_len = 0;
    m->packet_type = 0;
    const uint64_t at = now + delay_ns_;
    switch (fate) {
      case WireFate::kDropped:
      case WireFate::kLost:
        rte_pktmbuf_free(m);
        continue;
      case WireFate::kReordered:
        if (held_[d] != nullptr) {  // one at a time: the older one goes now
          Enqueue(dir, held_[d], at);
        }
        held_[d] = m;
        continue;
      case WireFate::kDuplicated: {
        rte_mbuf* copy = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX);
        Enqueue(dir, m, at);
        if (copy != nullptr) Enqueue(dir, copy, at);
        break;
      }
      case WireFate::kCorrupted: {
        const uint32_t len = rte_pktmbuf_pkt_len(m);
        if (len > 0) {
          uint32_t off = hit->offset < 0 ? len - 1 : std::min<uint32_t>(hit->offset, len - 1);
          rte_mbuf* seg = m;
          while (off >= seg->data_len) {
            off -= seg->data_len;
            seg = seg->next;
          }
          *rte_pktmbuf_mtod_offset(seg, uint8_t*, off) ^= 0xff;
        }
        Enqueue(dir, m, at);
        break;
      }
      case WireFate::kDelayed:
        Enqueue(dir, m, at + hit->delay_ns);
        break;
      case WireFate::kPassed:
        Enqueue(dir, m, at);
        break;
    }
    // A frame held for reordering goes right after the one that overtook it.
    if (held_[d] != nullptr) {
      Enqueue(dir, held_[d], at);
      held_[d] = nullptr;
    }
  }
  return n;
}

uint16_t Wire::Receive(WireDir dir, rte_mbuf** pkts, uint16_t n, uint64_t rx_offloads) {
  auto& q = flight_[static_cast<int>(dir)];
  const uint64_t now = clock_.NowNs();
  uint16_t got = 0;
  while (got < n && !q.empty() && q.begin()->first <= now) {
    rte_mbuf* m = q.begin()->second;
    q.erase(q.begin());
    if (rx_offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
      // Verify like a NIC would: only IPv4 frames, header in the first segment.
      const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
      if (rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) &&
          eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
        const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
        const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
        if (ihl >= sizeof(rte_ipv4_hdr) && rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + ihl) {
          m->ol_flags |= rte_raw_cksum(ip, ihl) == 0xffff ? RTE_MBUF_F_RX_IP_CKSUM_GOOD
                                                          : RTE_MBUF_F_RX_IP_CKSUM_BAD;
        }
      }
    }
    pkts[got++] = m;
  }
  return got;
}

uint64_t Wire::NextDeliveryNs() const {
  uint64_t next = UINT64_MAX;
  for (const auto& q : flight_)
    if (!q.empty()) next = std::min(next, q.begin()->first);
  return next;
}

void Wire::SetWakeup(TimerWheel* wheel, uint16_t kind) {
  if (wheel_ != nullptr) wheel_->Cancel(&wake_);
  wheel_ = wheel;
  wake_.kind = kind;
  if (wheel_ != nullptr) {
    wheel_->SetHandler(kind, &Wire::OnWakeup, this);
    ArmWakeup();
  }
}

void Wire::ArmWakeup() {
  if (wheel_ == nullptr) return;
  const uint64_t next = NextDeliveryNs();
  if (next == UINT64_MAX || next <= clock_.NowNs()) return;  // due now: polled anyway
  if (wake_.armed() && wheel_->TickOf(next) == wake_.expires) return;
  wheel_->Arm(&wake_, next);
}

void Wire::OnWakeup(Timer* /*t*/, void* ctx) { static_cast<Wire*>(ctx)->ArmWakeup(); }

}  // namespace dpx
