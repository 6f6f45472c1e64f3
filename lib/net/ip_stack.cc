#include "net/ip_stack.h"

#include <algorithm>

#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "core/reactor.h"
#include "net/ipv4_addr.h"

namespace dpx {

namespace {
constexpr uint16_t kMaxRxBurst = 64;
constexpr unsigned kRxBurstsPerPoll = 4;
}  // namespace

IpStack::IpStack(Reactor& reactor, Netif& netif, rte_mempool* pool, const IpStackConfig& config)
    : reactor_(reactor),
      netif_(netif),
      pool_(pool),
      cfg_(config),
      mib_(reactor.mib()),
      mac_(netif.mac()),
      mtu_(netif.mtu()),
      netmask_(Ipv4PrefixMask(config.prefix_len)),
      // /31 and /32 have no subnet broadcast (RFC 3021).
      subnet_bcast_(config.prefix_len >= 31 ? kIpv4Broadcast
                                            : (config.ip | ~Ipv4PrefixMask(config.prefix_len))),
      tx_offloads_(netif.tx_offloads()),
      tx_(netif, reactor.mib(), config.tx_buffer),
      arp_(reactor, tx_, pool, config.arp),
      icmp_(*this, config.icmp) {
  arp_.SetAddress(cfg_.ip, mac_);
  handlers_[kIpProtoIcmp] = [this](rte_mbuf* m, const Ipv4Rx& rx) { icmp_.Input(m, rx); };
}

IpStack::~IpStack() = default;

void IpStack::AttachToReactor() {
  reactor_.AddPoller([this] { return Poll(); });
  reactor_.AddFlusher([this] { Flush(); });
}

void IpStack::Start() {
  arp_.SendGratuitous();
  if (cfg_.gateway != 0) arp_.Resolve(cfg_.gateway);
}

// Like a NAPI poll with a budget: full bursts mean the ring is filling, so
// take up to kRxBurstsPerPoll of them before the rest of the iteration
// (timers, a process exit's closes) gets its turn.
unsigned IpStack::Poll() {
  rte_mbuf* pkts[kMaxRxBurst];
  const uint16_t want = std::min<uint16_t>(cfg_.rx_burst == 0 ? 32 : cfg_.rx_burst, kMaxRxBurst);
  unsigned total = 0;
  for (unsigned b = 0; b < kRxBurstsPerPoll; ++b) {
    const uint16_t n = netif_.RxBurst(pkts, want);
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
      Input(pkts[i]);
    }
    total += n;
    if (n < want) break;
  }
  return total;
}

void IpStack::Flush() { tx_.Flush(); }

void IpStack::Input(rte_mbuf* frame) {
  mib_.Inc(Mib::Eth_InFrames);
  EthRx eth;
  if (!EthParse(frame, mac_, &eth)) {
    mib_.Inc(Mib::Drop_PKT_TOO_SMALL);
    rte_pktmbuf_free(frame);
    return;
  }
  // We join no multicast groups, so multicast frames are for others too.
  if (eth.pkt_type == PktType::kOtherHost || eth.pkt_type == PktType::kMulticast) {
    mib_.Inc(Mib::Drop_OTHERHOST);
    rte_pktmbuf_free(frame);
    return;
  }
  switch (eth.ether_type) {
    case kEtherTypeIpv4:
      InputIpv4(frame, eth.pkt_type);
      return;
    case kEtherTypeArp:
      arp_.Input(frame, eth.pkt_type);
      return;
    default:
      mib_.Inc(Mib::Drop_UNHANDLED_PROTO);
      rte_pktmbuf_free(frame);
      return;
  }
}

void IpStack::RegisterProtocol(uint8_t proto, L4Handler handler) {
  handlers_[proto] = std::move(handler);
}

void IpStack::RegisterIcmpErrorHandler(uint8_t proto, IcmpErrorHandler handler) {
  icmp_.SetErrorHandler(proto, std::move(handler));
}

bool IpStack::IsBroadcast(uint32_t ip) const {
  return ip == kIpv4Broadcast || ip == subnet_bcast_;
}

bool IpStack::Route(uint32_t dst, uint32_t* nexthop) const {
  // No loopback device: nothing routes to ourselves.
  if (dst == 0 || Ipv4IsLoopback(dst) || dst == cfg_.ip) return false;
  if (dst == kIpv4Broadcast || Ipv4IsMulticast(dst) ||
      (dst & netmask_) == (cfg_.ip & netmask_)) {
    *nexthop = dst;
    return true;
  }
  if (cfg_.gateway != 0) {
    *nexthop = cfg_.gateway;
    return true;
  }
  return false;
}

}  // namespace dpx
