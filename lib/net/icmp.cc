#include "net/icmp.h"

#include <algorithm>
#include <cstring>

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/reactor.h"
#include "net/checksum.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"

namespace dpx {

namespace {
constexpr uint16_t kIcmpHdrLen = 8;
// Linux icmp_send quotes as much of the offending packet as fits in 576 bytes.
constexpr uint32_t kIcmpErrorMax = 576 - kIpv4MinHdrLen - kIcmpHdrLen;
constexpr uint8_t kIpTosMask = 0x1e;            // IPTOS_TOS_MASK
constexpr uint8_t kIpPrecInternetControl = 0xc0;  // IPTOS_PREC_INTERNETCONTROL

bool IsIcmpError(uint8_t type) {
  return type == kIcmpDestUnreach || type == 4 /* source quench */ || type == 5 /* redirect */ ||
         type == kIcmpTimeExceeded || type == kIcmpParamProblem;
}
}  // namespace

Icmp::Icmp(IpStack& stack, const IcmpConfig& config) : stack_(stack), cfg_(config) {}

// Linux icmp_global_allow: a token bucket of msgs_per_sec, depth msgs_burst.
bool Icmp::RateAllow() {
  if (cfg_.msgs_per_sec == 0) return true;
  const uint64_t cost = 1'000'000'000ull / cfg_.msgs_per_sec;
  const uint64_t depth = cost * std::max<uint32_t>(cfg_.msgs_burst, 1);
  const uint64_t now = stack_.reactor().now_ns();
  if (!bucket_started_) {
    bucket_started_ = true;
    tokens_ns_ = depth;
  } else {
    tokens_ns_ = std::min(depth, tokens_ns_ + (now - last_refill_ns_));
  }
  last_refill_ns_ = now;
  if (tokens_ns_ < cost) return false;
  tokens_ns_ -= cost;
  return true;
}

void Icmp::Input(rte_mbuf* m, const Ipv4Rx& rx) {
  Counters& mib = stack_.mib();
  mib.Inc(Mib::Icmp_InMsgs);
  const uint32_t len = rx.l4_len;
  if (len < kIcmpHdrLen ||
      (rte_pktmbuf_data_len(m) < kIcmpHdrLen && rte_pktmbuf_linearize(m) != 0)) {
    mib.Inc(Mib::Icmp_InErrors);
    mib.Inc(Mib::Drop_ICMP_MALFORMED);
    rte_pktmbuf_free(m);
    return;
  }
  if (!InetCksumMbufOk(m, 0, len)) {
    mib.Inc(Mib::Icmp_InCsumErrors);
    mib.Inc(Mib::Icmp_InErrors);
    mib.Inc(Mib::Drop_ICMP_CSUM);
    rte_pktmbuf_free(m);
    return;
  }
  const auto* h = rte_pktmbuf_mtod(m, const rte_icmp_hdr*);
  switch (h->icmp_type) {
    case kIcmpEcho:
      mib.Inc(Mib::Icmp_InEchos);
      InputEcho(m, rx);
      return;
    case kIcmpEchoReply: {
      mib.Inc(Mib::Icmp_InEchoReps);
      if (on_echo_reply_) {
        uint8_t buf[2048];
        const uint16_t plen = static_cast<uint16_t>(std::min<uint32_t>(len - kIcmpHdrLen, sizeof(buf)));
        const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, kIcmpHdrLen, plen, buf));
        on_echo_reply_(IcmpEchoReply{rx.src, rte_be_to_cpu_16(h->icmp_ident),
                                     rte_be_to_cpu_16(h->icmp_seq_nb), rx.ttl, p, plen});
      }
      rte_pktmbuf_free(m);
      return;
    }
    case kIcmpDestUnreach:
      mib.Inc(Mib::Icmp_InDestUnreachs);
      InputError(m, rx);
      return;
    case kIcmpTimeExceeded:
      mib.Inc(Mib::Icmp_InTimeExcds);
      InputError(m, rx);
      return;
    case kIcmpParamProblem:
      mib.Inc(Mib::Icmp_InParmProbs);
      InputError(m, rx);
      return;
    default:
      mib.Inc(Mib::Drop_ICMP_UNHANDLED);
      rte_pktmbuf_free(m);
      return;
  }
}

// Linux icmp_echo / icmp_reply: the request comes back with the same id,
// sequence and payload, from the address it was sent to.
void Icmp::InputEcho(rte_mbuf* m, const Ipv4Rx& rx) {
  Counters& mib = stack_.mib();
  if (cfg_.echo_ignore_all || (rx.broadcast && cfg_.echo_ignore_broadcasts)) {
    // icmp_rcv counts an ignored broadcast echo as an error.
    if (rx.broadcast) mib.Inc(Mib::Icmp_InErrors);
    mib.Inc(Mib::Drop_ICMP_ECHO_IGNORED);
    rte_pktmbuf_free(m);
    return;
  }
  auto* h = rte_pktmbuf_mtod(m, rte_icmp_hdr*);
  h->icmp_type = kIcmpEchoReply;
  h->icmp_code = 0;
  h->icmp_cksum = 0;
  h->icmp_cksum = InetCksumMbuf(m, 0, rx.l4_len);
  Ipv4Tx tx;
  tx.dst = rx.src;
  tx.src = stack_.ip();
  tx.proto = kIpProtoIcmp;
  tx.tos = rx.tos;
  tx.df = false;  // ICMP sockets do not do PMTU discovery in Linux
  mib.Inc(Mib::Icmp_OutMsgs);
  mib.Inc(Mib::Icmp_OutEchoReps);
  stack_.SendIpv4(m, tx);
}

// Linux icmp_unreach / icmp_err: the quoted header picks the protocol.
void Icmp::InputError(rte_mbuf* m, const Ipv4Rx& rx) {
  Counters& mib = stack_.mib();
  const uint32_t len = rx.l4_len;
  auto bad = [&] {
    mib.Inc(Mib::Icmp_InErrors);
    mib.Inc(Mib::Drop_ICMP_MALFORMED);
    rte_pktmbuf_free(m);
  };
  if (len < kIcmpHdrLen + kIpv4MinHdrLen + 8) return bad();
  if (rte_pktmbuf_data_len(m) < len && rte_pktmbuf_linearize(m) != 0) return bad();
  const auto* h = rte_pktmbuf_mtod(m, const rte_icmp_hdr*);
  const auto* inner = reinterpret_cast<const rte_ipv4_hdr*>(reinterpret_cast<const uint8_t*>(h) +
                                                            kIcmpHdrLen);
  const uint32_t ihl = static_cast<uint32_t>(inner->version_ihl & 0x0f) * 4;
  if ((inner->version_ihl >> 4) != 4 || ihl < kIpv4MinHdrLen ||
      kIcmpHdrLen + ihl + 8 > len)
    return bad();
  const IcmpErrorHandler& fn = error_handlers_[inner->next_proto_id];
  if (!fn || inner->src_addr != stack_.ip()) {
    mib.Inc(Mib::Drop_ICMP_UNHANDLED);
    rte_pktmbuf_free(m);
    return;
  }
  uint16_t mtu = 0;
  if (h->icmp_type == kIcmpDestUnreach && h->icmp_code == kIcmpFragNeeded)
    mtu = rte_be_to_cpu_16(h->icmp_seq_nb);  // second half of the "unused" word
  const auto* l4 = reinterpret_cast<const uint8_t*>(inner) + ihl;
  fn(IcmpError{h->icmp_type, h->icmp_code, mtu, rx.src, inner, l4,
               static_cast<uint16_t>(len - kIcmpHdrLen - ihl)});
  rte_pktmbuf_free(m);
}

bool Icmp::SendDestUnreach(const rte_mbuf* orig, uint8_t code, uint16_t mtu) {
  const uint16_t ihl = orig->l3_len;
  if (ihl < kIpv4MinHdrLen || rte_pktmbuf_headroom(orig) < ihl) return false;
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(
      rte_pktmbuf_mtod(orig, const uint8_t*) - ihl);
  // Linux __icmp_send: never about broadcasts/multicasts, non-first
  // fragments, ICMP errors, or from a source we could not answer.
  if (stack_.IsBroadcast(ip->dst_addr) || Ipv4IsMulticast(ip->dst_addr)) return false;
  if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) return false;
  const uint32_t src = ip->src_addr;
  if (src == 0 || stack_.IsBroadcast(src) || Ipv4IsMulticast(src) || Ipv4IsLoopback(src))
    return false;
  if (ip->next_proto_id == kIpProtoIcmp) {
    uint8_t type;
    if (rte_pktmbuf_pkt_len(orig) < 1) return false;
    type = *rte_pktmbuf_mtod(orig, const uint8_t*);
    if (IsIcmpError(type) || type > 18) return false;
  }
  // icmpv4_global_allow: "fragmentation needed" is never limited (PMTUD).
  // Linux also limits per destination (icmp_ratelimit); dpx only globally.
  if (!(code == kIcmpFragNeeded) && !RateAllow()) {
    stack_.mib().Inc(Mib::Icmp_OutRateLimitGlobal);
    return false;
  }
  rte_mbuf* m = rte_pktmbuf_alloc(stack_.pool());
  if (m == nullptr) {
    stack_.mib().Inc(Mib::Drop_NOMEM);
    return false;
  }
  const uint32_t quote = std::min<uint32_t>(ihl + rte_pktmbuf_pkt_len(orig), kIcmpErrorMax);
  auto* h = reinterpret_cast<rte_icmp_hdr*>(rte_pktmbuf_append(m, static_cast<uint16_t>(kIcmpHdrLen + quote)));
  if (h == nullptr) {
    rte_pktmbuf_free(m);
    stack_.mib().Inc(Mib::Drop_NOMEM);
    return false;
  }
  h->icmp_type = kIcmpDestUnreach;
  h->icmp_code = code;
  h->icmp_cksum = 0;
  h->icmp_ident = 0;
  h->icmp_seq_nb = code == kIcmpFragNeeded ? rte_cpu_to_be_16(mtu) : 0;
  auto* body = reinterpret_cast<uint8_t*>(h) + kIcmpHdrLen;
  std::memcpy(body, ip, ihl);
  const uint32_t l4_quote = quote - ihl;
  const void* l4 = rte_pktmbuf_read(orig, 0, l4_quote, body + ihl);
  if (l4 != body + ihl && l4 != nullptr) std::memcpy(body + ihl, l4, l4_quote);
  h->icmp_cksum = InetCksumMbuf(m, 0, kIcmpHdrLen + quote);

  Ipv4Tx tx;
  tx.dst = src;
  tx.src = stack_.ip();
  tx.proto = kIpProtoIcmp;
  tx.tos = static_cast<uint8_t>((ip->type_of_service & kIpTosMask) | kIpPrecInternetControl);
  tx.df = false;
  stack_.mib().Inc(Mib::Icmp_OutMsgs);
  stack_.mib().Inc(Mib::Icmp_OutDestUnreachs);
  stack_.SendIpv4(m, tx);
  return true;
}

TxStatus Icmp::SendEcho(uint32_t dst, uint16_t id, uint16_t seq, const void* payload,
                        uint16_t payload_len) {
  rte_mbuf* m = rte_pktmbuf_alloc(stack_.pool());
  if (m == nullptr) {
    stack_.mib().Inc(Mib::Drop_NOMEM);
    return TxStatus::kDropped;
  }
  auto* h = reinterpret_cast<rte_icmp_hdr*>(rte_pktmbuf_append(m, kIcmpHdrLen + payload_len));
  if (h == nullptr) {
    rte_pktmbuf_free(m);
    stack_.mib().Inc(Mib::Drop_NOMEM);
    return TxStatus::kDropped;
  }
  h->icmp_type = kIcmpEcho;
  h->icmp_code = 0;
  h->icmp_cksum = 0;
  h->icmp_ident = rte_cpu_to_be_16(id);
  h->icmp_seq_nb = rte_cpu_to_be_16(seq);
  if (payload_len > 0) std::memcpy(h + 1, payload, payload_len);
  h->icmp_cksum = InetCksumMbuf(m, 0, kIcmpHdrLen + payload_len);
  Ipv4Tx tx;
  tx.dst = dst;
  tx.proto = kIpProtoIcmp;
  tx.df = false;
  stack_.mib().Inc(Mib::Icmp_OutMsgs);
  stack_.mib().Inc(Mib::Icmp_OutEchos);
  return stack_.SendIpv4(m, tx);
}

}  // namespace dpx
