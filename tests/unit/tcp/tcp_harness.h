// Two TcpStacks on the in-memory wire under virtual time (A = 10.0.0.1,
// B = 10.0.0.2), with helpers to read the TCP segments from the capture.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "core/timer_kinds.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"
#include "net/wire.h"
#include "support/eal_env.h"
#include "tcp/options.h"
#include "tcp/socket_api.h"
#include "tcp/tcp_header.h"
#include "tcp/tcp_stack.h"

namespace dpx::tcp::testing {

inline constexpr rte_ether_addr kMacA = {{0x02, 0, 0, 0, 0, 0x0a}};
inline constexpr rte_ether_addr kMacB = {{0x02, 0, 0, 0, 0, 0x0b}};
inline constexpr uint32_t kIpA = Ipv4Addr(10, 0, 0, 1);
inline constexpr uint32_t kIpB = Ipv4Addr(10, 0, 0, 2);

// One TCP segment seen on the wire.
struct WireSeg {
  WireDir dir;
  WireFate fate;
  uint64_t sent_ns;
  uint8_t flags;
  uint32_t seq, ack;
  uint16_t win;
  uint32_t len;
  uint16_t sport, dport;
  ParsedOptions opt;
  std::vector<uint8_t> raw_opts;
  std::string Flags() const {
    char f[9];
    FormatFlags(flags, f);
    return f;
  }
};

inline std::vector<WireSeg> TcpSegments(const std::vector<WireFrame>& frames, size_t from = 0) {
  std::vector<WireSeg> out;
  for (size_t i = from; i < frames.size(); ++i) {
    const auto& b = frames[i].bytes;
    if (b.size() < 14 + 20 + 20) continue;
    if (b[12] != 0x08 || b[13] != 0x00) continue;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(b.data() + 14);
    if (ip->next_proto_id != 6) continue;
    const size_t ihl = (ip->version_ihl & 0xf) * 4;
    const auto* th = reinterpret_cast<const TcpHeader*>(b.data() + 14 + ihl);
    WireSeg s{};
    s.dir = frames[i].dir;
    s.fate = frames[i].fate;
    s.sent_ns = frames[i].sent_ns;
    s.flags = Flags(*th);
    s.seq = Seq(*th);
    s.ack = AckSeq(*th);
    s.win = Window(*th);
    s.sport = SrcPort(*th);
    s.dport = DstPort(*th);
    s.len = rte_be_to_cpu_16(ip->total_length) - static_cast<uint32_t>(ihl) -
            static_cast<uint32_t>(HeaderLen(*th));
    OptionParseContext ctx;
    ctx.syn = (s.flags & TCPHDR_SYN) != 0;
    ctx.estab = !ctx.syn;
    ctx.tstamp_ok = true;
    ctx.sack_ok = true;
    ParseOptions(OptionsPtr(*th), OptionsLen(*th), ctx, &s.opt);
    s.raw_opts.assign(OptionsPtr(*th), OptionsPtr(*th) + OptionsLen(*th));
    out.push_back(s);
  }
  return out;
}

class TwoStacks {
 public:
  explicit TwoStacks(TcpStackConfig tcfg = DefaultTcp(), uint64_t one_way_ns = 1'000'000)
      : ra_(0, &clock_, &mib_a_),
        rb_(1, &clock_, &mib_b_),
        wire_(clock_, dpx::testing::TestPool(), WireCfg(one_way_ns)),
        ipa_(ra_, wire_.a(), dpx::testing::TestPool(), IpCfg(kIpA)),
        ipb_(rb_, wire_.b(), dpx::testing::TestPool(), IpCfg(kIpB)),
        ta_(ra_, ipa_, WithSeed(tcfg, 11)),
        tb_(rb_, ipb_, WithSeed(tcfg, 22)) {
    ipa_.AttachToReactor();
    ipb_.AttachToReactor();
    wire_.SetWakeup(&ra_.timers(), timer_kind::kWireWakeup);
  }

  static TcpStackConfig DefaultTcp() {
    TcpStackConfig c;
    c.ehash_buckets = 1024;
    return c;
  }
  static TcpStackConfig WithSeed(TcpStackConfig c, uint64_t s) {
    if (c.secret_seed == 0) c.secret_seed = s;
    return c;
  }
  static WireConfig WireCfg(uint64_t delay) {
    WireConfig w;
    w.a.mac = kMacA;
    w.b.mac = kMacB;
    w.delay_ns = delay;
    w.capture = true;
    return w;
  }
  static IpStackConfig IpCfg(uint32_t ip) {
    IpStackConfig c;
    c.ip = ip;
    c.prefix_len = 24;
    return c;
  }

  void Run(uint64_t ns) { RunVirtualUntil(clock_, {&ra_, &rb_}, clock_.NowNs() + ns); }
  void Settle() { RunVirtualUntil(clock_, {&ra_, &rb_}, clock_.NowNs()); }

  // Segments captured since the last call.
  std::vector<WireSeg> NewSegments() {
    auto v = TcpSegments(wire_.captured(), seen_);
    seen_ = wire_.captured().size();
    return v;
  }
  std::vector<WireSeg> AllSegments() const { return TcpSegments(wire_.captured()); }

  // Opens a connection A -> B:port; returns {client on A, accepted child on B}.
  std::pair<Tcb*, Tcb*> Connect(uint16_t port = 80) {
    Tcb* l = TcpSocket(tb_);
    EXPECT_EQ(TcpBind(l, 0, port), 0);
    EXPECT_EQ(TcpListen(l, 128), 0);
    listener_ = l;
    Tcb* c = TcpSocket(ta_);
    EXPECT_EQ(TcpConnect(c, kIpB, port), -EINPROGRESS);
    Run(20'000'000);
    Tcb* child = nullptr;
    EXPECT_EQ(TcpAccept(l, &child), 0);
    return {c, child};
  }

  VirtualClock& clock() { return clock_; }
  Wire& wire() { return wire_; }
  TcpStack& a() { return ta_; }
  TcpStack& b() { return tb_; }
  Counters& mib_a() { return mib_a_; }
  Counters& mib_b() { return mib_b_; }
  Tcb* listener() { return listener_; }

 private:
  VirtualClock clock_{1'000'000'000};
  Counters mib_a_, mib_b_;
  Reactor ra_, rb_;
  Wire wire_;
  IpStack ipa_, ipb_;
  TcpStack ta_, tb_;
  size_t seen_ = 0;
  Tcb* listener_ = nullptr;
};

}  // namespace dpx::tcp::testing
