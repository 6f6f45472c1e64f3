#include "gen/flood.h"

#include <algorithm>

#include <rte_mbuf.h>

#include "net/ip_stack.h"
#include "net/ipv4.h"
#include "tcp/tcp_header.h"

namespace dpx::gen {

namespace {
constexpr unsigned kMaxPerPoll = 64;  // one tx burst
}  // namespace

Flood::Flood(IpStack& ip, FloodKind kind, uint32_t dst_be, std::vector<uint16_t> ports,
             uint64_t pps)
    : ip_(ip), kind_(kind), dst_be_(dst_be), ports_(std::move(ports)), pps_(pps) {}

void Flood::Start(uint64_t now_ns) {
  running_ = kind_ != FloodKind::kNone && pps_ > 0 && !ports_.empty();
  last_ns_ = now_ns;
  tokens_ = 0;
}

uint32_t Flood::Random() {
  rng_ ^= rng_ << 13;  // xorshift64
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return static_cast<uint32_t>(rng_ >> 16);
}

unsigned Flood::Poll(uint64_t now_ns) {
  if (!running_) return 0;
  const double dt = static_cast<double>(now_ns - last_ns_) * 1e-9;
  last_ns_ = now_ns;
  const double cap = std::max(1.0, static_cast<double>(pps_) * 0.001);  // 1 ms of burst
  tokens_ = std::min(cap, tokens_ + dt * static_cast<double>(pps_));
  unsigned n = 0;
  while (n < kMaxPerPoll && tokens_ >= 1.0) {
    tokens_ -= 1.0;
    if (SendOne()) ++stats_.sent;
    else ++stats_.dropped;
    ++n;
  }
  return n;
}

bool Flood::SendOne() {
  rte_mbuf* m = rte_pktmbuf_alloc(ip_.pool());
  if (m == nullptr) return false;
  auto* th = reinterpret_cast<tcp::TcpHeader*>(rte_pktmbuf_append(m, sizeof(tcp::TcpHeader)));
  if (th == nullptr) {
    rte_pktmbuf_free(m);
    return false;
  }
  const uint16_t sport = static_cast<uint16_t>(1024 + Random() % (65536 - 1024));
  tcp::SetSrcPort(*th, sport);
  tcp::SetDstPort(*th, ports_[next_port_++ % ports_.size()]);
  tcp::SetSeq(*th, Random());
  tcp::SetAckSeq(*th, kind_ == FloodKind::kAck ? Random() : 0);
  tcp::SetHeaderLen(*th, sizeof(tcp::TcpHeader));
  tcp::SetFlags(*th, kind_ == FloodKind::kSyn ? tcp::TCPHDR_SYN : tcp::TCPHDR_ACK);
  tcp::SetWindow(*th, 65535);
  th->cksum = 0;
  th->tcp_urp = 0;
  Ipv4Tx tx;
  tx.dst = dst_be_;
  tx.proto = kIpProtoTcp;
  tx.l4_cksum = true;
  return ip_.SendIpv4(m, tx) != TxStatus::kDropped;
}

}  // namespace dpx::gen
