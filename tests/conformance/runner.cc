#include "conformance/runner.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/clock.h"
#include "core/counters.h"
#include "core/reactor.h"
#include "core/timer_kinds.h"
#include "net/ip_stack.h"
#include "net/ipv4_addr.h"
#include "net/wire.h"
#include "socket/file.h"
#include "socket/process.h"
#include "socket/syscalls.h"
#include "support/eal_env.h"
#include "tcp/options.h"
#include "tcp/socket_api.h"
#include "tcp/sysctl_table.h"
#include "tcp/tcp_header.h"
#include "tcp/tcp_stack.h"
#include "tcp/tcp_state.h"

namespace dpx::conformance {

namespace {

using tcp::Tcb;

constexpr uint32_t kDpxIp = Ipv4Addr(192, 168, 0, 1);
constexpr uint32_t kGatewayIp = Ipv4Addr(192, 168, 0, 254);
constexpr uint32_t kPeerIp = Ipv4Addr(192, 0, 2, 1);
constexpr rte_ether_addr kDpxMac = {{0x02, 0, 0, 0, 0, 0x01}};
constexpr rte_ether_addr kPeerMac = {{0x02, 0, 0, 0, 0, 0x02}};
constexpr uint64_t kStartNs = 1'000'000'000;  // script time 0
constexpr uint16_t kDefaultPeerPort = 45000;
constexpr uint16_t kDefaultDpxPort = 8080;     // bind(fd, ...) / connect(fd, ...)
constexpr uint32_t kDefaultPeerIsn = 1'000'000'000;
constexpr size_t kTranscriptTail = 25;
constexpr int kFirstPid = 100;  // the script's process (ProcessTable's first pid)

std::string Secs(uint64_t abs_ns) {
  const int64_t rel = static_cast<int64_t>(abs_ns) - static_cast<int64_t>(kStartNs);
  return absl::StrFormat("%.6f", static_cast<double>(rel) / 1e9);
}

std::string ErrnoName(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : absl::StrCat("errno", e);
}

// One frame dpx sent, decoded.
struct Seen {
  uint64_t sent_ns = 0;
  bool tcp = false;
  std::string what;  // non-TCP: a description
  uint16_t sport = 0, dport = 0;
  uint8_t flags = 0;
  uint32_t seq = 0, ack = 0;
  uint16_t win = 0;
  uint32_t len = 0;
  std::vector<uint8_t> opts;
};

// The two halves of one connection's sequence space, keyed by the peer port.
struct Conn {
  uint16_t peer_port = 0;
  uint16_t dpx_port = 0;  // host order; 0 until known
  uint32_t peer_isn = kDefaultPeerIsn;
  std::optional<uint32_t> dpx_isn;
  uint32_t last_tsval = 0;  // TS val of dpx's latest segment: `ecr *` in `<`
  uint32_t dpx_base() const { return dpx_isn.value_or(0); }
};

struct Tuple {
  uint32_t saddr = 0, daddr = 0;  // network order
  uint16_t sport = 0, dport = 0;  // network order
};

bool ParseI64(absl::string_view w, int64_t* v) { return absl::SimpleAtoi(w, v); }

// Decodes raw option bytes into script options, in wire order. SACK blocks
// are made relative to `sack_base`.
std::vector<ScriptOption> DecodeOptions(const std::vector<uint8_t>& o, uint32_t sack_base,
                                        std::string* bad) {
  std::vector<ScriptOption> out;
  size_t i = 0;
  auto be32 = [&](size_t at) {
    return (uint32_t{o[at]} << 24) | (uint32_t{o[at + 1]} << 16) | (uint32_t{o[at + 2]} << 8) |
           o[at + 3];
  };
  while (i < o.size()) {
    ScriptOption so;
    const uint8_t kind = o[i];
    if (kind == tcp::kTcpOptNop || kind == tcp::kTcpOptEol) {
      so.kind = kind == tcp::kTcpOptNop ? ScriptOption::Kind::kNop : ScriptOption::Kind::kEol;
      out.push_back(so);
      ++i;
      continue;
    }
    if (i + 1 >= o.size() || o[i + 1] < 2 || i + o[i + 1] > o.size()) {
      *bad = absl::StrCat("malformed option kind ", kind, " at byte ", i);
      return out;
    }
    const uint8_t len = o[i + 1];
    switch (kind) {
      case tcp::kTcpOptMss:
        so.kind = ScriptOption::Kind::kMss;
        if (len == 4) so.a.value = (uint32_t{o[i + 2]} << 8) | o[i + 3];
        break;
      case tcp::kTcpOptWindow:
        so.kind = ScriptOption::Kind::kWscale;
        if (len == 3) so.a.value = o[i + 2];
        break;
      case tcp::kTcpOptSackPerm:
        so.kind = ScriptOption::Kind::kSackOk;
        break;
      case tcp::kTcpOptTimestamp:
        so.kind = ScriptOption::Kind::kTimestamp;
        if (len == 10) {
          so.a.value = be32(i + 2);
          so.b.value = be32(i + 6);
        }
        break;
      case tcp::kTcpOptSack:
        so.kind = ScriptOption::Kind::kSack;
        for (size_t b = i + 2; b + 8 <= i + len; b += 8)
          so.sack_blocks.emplace_back(be32(b) - sack_base, be32(b + 4) - sack_base);
        break;
      default:
        *bad = absl::StrCat("unknown option kind ", kind);
        break;
    }
    out.push_back(so);
    i += len;
  }
  return out;
}

// One's complement helpers for verifying dpx's TCP checksums.
uint32_t PseudoSum(const rte_ipv4_hdr* ip, size_t l4_len) {
  const auto* s = reinterpret_cast<const uint8_t*>(&ip->src_addr);
  const auto* d = reinterpret_cast<const uint8_t*>(&ip->dst_addr);
  uint32_t sum = 0;
  for (int i = 0; i < 4; i += 2) {
    sum += (uint32_t{s[i]} << 8) | s[i + 1];
    sum += (uint32_t{d[i]} << 8) | d[i + 1];
  }
  return sum + 6 + static_cast<uint32_t>(l4_len);
}
// The segment with its checksum field sums to all ones, pseudo header included.
bool TcpCksumOk(const rte_ipv4_hdr* ip, const uint8_t* l4, size_t l4_len) {
  uint64_t sum = PseudoSum(ip, l4_len);
  for (size_t i = 0; i + 1 < l4_len; i += 2) sum += (uint32_t{l4[i]} << 8) | l4[i + 1];
  if (l4_len & 1) sum += uint32_t{l4[l4_len - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

bool FieldMatches(const Field& want, uint32_t got) { return want.any || want.value == got; }

// Compares one expected option list with the seen one; empty string if equal.
std::string CompareOptions(const std::vector<ScriptOption>& want,
                           const std::vector<ScriptOption>& got) {
  if (want.size() != got.size()) return "options differ";
  for (size_t i = 0; i < want.size(); ++i) {
    const ScriptOption& w = want[i];
    const ScriptOption& g = got[i];
    if (w.kind != g.kind) return absl::StrCat("option ", i + 1, " differs");
    switch (w.kind) {
      case ScriptOption::Kind::kMss:
      case ScriptOption::Kind::kWscale:
        if (!FieldMatches(w.a, g.a.value)) return absl::StrCat("option ", i + 1, " value differs");
        break;
      case ScriptOption::Kind::kTimestamp:
        if (!FieldMatches(w.a, g.a.value)) return "TS val differs";
        if (!FieldMatches(w.b, g.b.value)) return "TS ecr differs";
        break;
      case ScriptOption::Kind::kSack:
        if (w.sack_blocks != g.sack_blocks) return "SACK blocks differ";
        break;
      default:
        break;
    }
  }
  return "";
}

// `%sysctl name=value` through lib/tcp's table of Linux names (the same one
// `dpxctl sysctl` uses). Values are written as /proc/sys takes them.
absl::Status ApplySysctl(tcp::TcpSysctls& sc, absl::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == absl::string_view::npos)
    return absl::InvalidArgumentError(absl::StrCat("expected name=value, got '", spec, "'"));
  const absl::string_view name = absl::StripAsciiWhitespace(spec.substr(0, eq));
  const absl::string_view value = absl::StripAsciiWhitespace(spec.substr(eq + 1));
  return tcp::SysctlSet(&sc, name, value);
}

// Names of socket-call arguments (Linux values where the stack wants them).
bool NameValue(absl::string_view n, int64_t* v) {
  static const std::map<std::string, int64_t, std::less<>> kNames = {
      {"AF_INET", 2},           {"SOCK_STREAM", 1},        {"IPPROTO_TCP", 6},
      {"SOL_TCP", tcp::kIpprotoTcp},
      {"SOL_SOCKET", tcp::kSolSocket},
      {"SO_SNDBUF", tcp::kSoSndbuf},      {"SO_RCVBUF", tcp::kSoRcvbuf},
      {"SO_KEEPALIVE", tcp::kSoKeepalive}, {"SO_LINGER", tcp::kSoLinger},
      {"SO_ERROR", tcp::kSoError},        {"TCP_NODELAY", tcp::kTcpNodelay},
      {"TCP_MAXSEG", tcp::kTcpMaxseg},    {"TCP_KEEPIDLE", tcp::kTcpKeepidle},
      {"TCP_KEEPINTVL", tcp::kTcpKeepintvl}, {"TCP_KEEPCNT", tcp::kTcpKeepcnt},
      {"TCP_SYNCNT", tcp::kTcpSyncnt},    {"TCP_LINGER2", tcp::kTcpLinger2},
      {"SHUT_RD", tcp::kShutRd},          {"SHUT_WR", tcp::kShutWr},
      {"SHUT_RDWR", tcp::kShutRdWr},      {"MSG_DONTWAIT", tcp::kMsgDontwait},
      {"TCP_CORK", tcp::kTcpCork},        {"MSG_MORE", tcp::kMsgMore},
      // Linux values the dpx API may not know yet (the call then fails).
      {"TCP_USER_TIMEOUT", 18},           {"SO_REUSEADDR", 2},
      {"F_SETFL", 4},                     {"F_GETFL", 3},
      {"O_NONBLOCK", 04000},              {"O_RDWR", 2},
  };
  auto it = kNames.find(n);
  if (it == kNames.end()) return false;
  *v = it->second;
  return true;
}

class Runner {
 public:
  Runner(const Script& script, const RunnerOptions& opts)
      : script_(script),
        opts_(opts),
        tolerance_ns_(opts.tolerance_ns),
        reactor_(0, &clock_, &mib_),
        wire_(clock_, testing::TestPool(), WireCfg()),
        ip_(reactor_, wire_.a(), testing::TestPool(), IpCfg()) {
    ip_.AttachToReactor();
    wire_.SetWakeup(&reactor_.timers(), timer_kind::kWireWakeup);
    reactor_.AddPoller([this] { return PeerPoll(); });
    // Pre-seeded ARP: the peer sits behind the gateway, whose MAC is the peer's.
    ip_.arp().Learn(kGatewayIp, kPeerMac, true);
    tcp::TcpStackConfig tc;
    tc.ehash_buckets = 1024;
    tc.secret_seed = 0x5eed;
    // Leading `%sysctl` lines shape the stack from its creation.
    for (const ScriptLine& l : script_.lines) {
      const auto* d = std::get_if<ScriptDirective>(&l.event);
      if (d == nullptr || d->name != "sysctl") break;
      (void)ApplySysctl(tc.sysctl, absl::StrJoin(d->words, " "));
    }
    tcp_ = std::make_unique<tcp::TcpStack>(reactor_, ip_, tc);
    // The script's processes: pid 100 first, fork()s get 101, 102, ...
    pt_ = std::make_unique<sock::ProcessTable>(
        std::vector<sock::CoreStack>{sock::CoreStack{&reactor_, tcp_.get()}});
    auto p = pt_->Spawn("script", 0);
    acting_ = p.ok() ? (*p)->pid() : -1;
    Settle();
  }

  ~Runner() {
    // Every process still alive exits, so what the script left open is
    // closed and mbufs go back to the pool.
    for (const auto& p : pt_->List())
      if (p->state() == sock::ProcState::kRunning) pt_->Exit(*p, 0, 0);
    Settle();
    pt_.reset();
    tcp_.reset();
    DrainPeer();
  }

  absl::Status Run();

 private:
  static WireConfig WireCfg() {
    WireConfig w;
    w.a.mac = kDpxMac;
    w.b.mac = kPeerMac;
    w.delay_ns = 0;
    w.capture = true;
    return w;
  }
  static IpStackConfig IpCfg() {
    IpStackConfig c;
    c.ip = kDpxIp;
    c.prefix_len = 24;
    c.gateway = kGatewayIp;
    return c;
  }

  // ---- time and the wire ----
  void Settle() { RunVirtualUntil(clock_, {&reactor_}, clock_.NowNs()); }
  void AdvanceTo(uint64_t abs_ns) {
    if (abs_ns > clock_.NowNs()) RunVirtualUntil(clock_, {&reactor_}, abs_ns);
    else Settle();
    Collect();
  }
  unsigned PeerPoll();
  void DrainPeer();
  void Collect();
  void Inject(std::vector<uint8_t> frame);

  // ---- lines ----
  absl::Status Fail(const ScriptLine& l, absl::string_view what);
  absl::Status CheckNothingPending(const ScriptLine* l);
  absl::Status DoInbound(const ScriptLine& l, const ScriptPacket& p);
  absl::Status DoExpect(const ScriptLine& l, const ScriptPacket& p, uint64_t target_ns,
                        uint64_t* actual_ns);
  absl::Status DoCall(const ScriptLine& l, const ScriptCall& c);
  absl::Status DoDirective(const ScriptLine& l, const ScriptDirective& d);

  Conn& ConnFor(uint16_t peer_port) {
    auto it = conns_.find(peer_port);
    if (it == conns_.end()) {
      Conn c;
      c.peer_port = peer_port;
      it = conns_.emplace(peer_port, c).first;
    }
    return it->second;
  }
  ScriptPacket ToScript(const Seen& s, const Conn& c) const;
  std::string Describe(const Seen& s);
  void Log(std::string s) {
    if (opts_.trace) fprintf(stderr, "%s\n", s.c_str());
    transcript_.push_back(std::move(s));
  }

  // The acting process (`%proc`), nullptr if unknown.
  std::shared_ptr<sock::Process> Acting() const { return pt_->Find(acting_); }
  // The socket at `fd` in the acting process's fd table (nullptr if the fd
  // is not open there, or the process is not running).
  Tcb* FdSock(int64_t fd) {
    auto p = Acting();
    if (!p || p->state() != sock::ProcState::kRunning) return nullptr;
    sock::File* f = p->fds().Get(static_cast<int>(fd));
    return f != nullptr && f->is_socket() ? f->sk : nullptr;
  }
  // `fd` of the acting process now holds a file (socket, accept, dup,
  // dup2): it is no longer a closed fd; the file's events reach the runner.
  void OpenedFd(int fd, bool new_socket) {
    closed_.erase({acting_, fd});
    closing_.erase({acting_, fd});
    auto p = Acting();
    sock::File* f = p ? p->fds().Get(fd) : nullptr;
    if (f == nullptr || !f->is_socket()) return;
    if (new_socket) close_done_.erase(f->sk);
    f->app_cb = &Runner::OnEvents;
    f->app_ctx = this;
  }
  // `fd` of the acting process is about to go (close, exit): remember the
  // connection's addresses (%state of a closed fd) and its socket
  // (%close_done).
  void ClosingFd(int fd) {
    Tcb* sk = FdSock(fd);
    if (sk == nullptr) return;
    closed_[{acting_, fd}] = Tuple{sk->c.saddr, sk->c.daddr, sk->c.sport, sk->c.dport};
    closing_[{acting_, fd}] = sk;
  }
  // Runs one call in the acting process through lib/socket and lets the
  // reactor carry it out (an exit runs to completion here). False if it did
  // not complete.
  bool Call(const sock::SyscallReq& req, sock::SyscallResult* out) {
    struct Pending {
      bool done = false;
      sock::SyscallResult res;
    };
    auto st = std::make_shared<Pending>();
    if (!sock::Syscall(*pt_, acting_, req, [st](const sock::SyscallResult& r) {
          st->res = r;
          st->done = true;
        })) {
      out->ret = -ESRCH;  // no such process
      return true;
    }
    Settle();
    *out = st->res;
    return st->done;
  }
  // Socket events: only kEvCloseDone matters (SO_LINGER {1,N} closes
  // complete asynchronously; %close_done / %close_blocked).
  static void OnEvents(Tcb* sk, uint32_t ev, void* ctx) {
    if (ev & tcp::kEvCloseDone) static_cast<Runner*>(ctx)->close_done_[sk] = true;
  }

  const Script& script_;
  RunnerOptions opts_;
  uint64_t tolerance_ns_;
  VirtualClock clock_{kStartNs};
  Counters mib_;
  Reactor reactor_;
  Wire wire_;
  IpStack ip_;
  std::unique_ptr<tcp::TcpStack> tcp_;
  std::unique_ptr<sock::ProcessTable> pt_;
  int acting_ = kFirstPid;  // the process the calls run in (`%proc`)

  std::deque<Seen> pending_;  // sent by dpx, not yet matched
  // Closed fds, by (pid, fd): the connection's addresses and its socket.
  std::map<std::pair<int, int>, Tuple> closed_;
  std::map<std::pair<int, int>, Tcb*> closing_;
  std::map<Tcb*, bool> close_done_;    // kEvCloseDone seen
  std::map<uint16_t, Conn> conns_;
  uint16_t peer_port_ = kDefaultPeerPort;
  uint16_t listen_port_ = 0;
  uint16_t ip_id_ = 1;
  std::vector<std::string> transcript_;
};

// The peer's receive side: answers ARP requests at once (so a long script
// never waits on resolution) and frees every frame (the capture has them).
unsigned Runner::PeerPoll() {
  rte_mbuf* pkts[32];
  unsigned work = 0;
  uint16_t n;
  while ((n = wire_.b().RxBurst(pkts, 32)) > 0) {
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
      if (rte_pktmbuf_data_len(m) >= sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr) &&
          eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
        const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
        if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) &&
            arp->arp_data.arp_tip != kDpxIp) {
          std::vector<uint8_t> f(sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr), 0);
          auto* re = reinterpret_cast<rte_ether_hdr*>(f.data());
          re->dst_addr = arp->arp_data.arp_sha;
          re->src_addr = kPeerMac;
          re->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
          auto* ra = reinterpret_cast<rte_arp_hdr*>(re + 1);
          ra->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
          ra->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
          ra->arp_hlen = 6;
          ra->arp_plen = 4;
          ra->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
          ra->arp_data.arp_sha = kPeerMac;
          ra->arp_data.arp_sip = arp->arp_data.arp_tip;
          ra->arp_data.arp_tha = arp->arp_data.arp_sha;
          ra->arp_data.arp_tip = arp->arp_data.arp_sip;
          f.resize(60, 0);
          rte_mbuf* r = rte_pktmbuf_alloc(testing::TestPool());
          if (r != nullptr) {
            std::memcpy(rte_pktmbuf_append(r, static_cast<uint16_t>(f.size())), f.data(), f.size());
            if (wire_.b().TxBurst(&r, 1) != 1) rte_pktmbuf_free(r);
          }
        }
      }
      rte_pktmbuf_free(m);
      ++work;
    }
  }
  return work;
}

void Runner::DrainPeer() {
  rte_mbuf* pkts[32];
  uint16_t n;
  while ((n = wire_.b().RxBurst(pkts, 32)) > 0) rte_pktmbuf_free_bulk(pkts, n);
}

// Moves what dpx sent since the last call from the capture to pending_.
void Runner::Collect() {
  for (const WireFrame& f : wire_.captured()) {
    if (f.dir != WireDir::kAtoB) continue;
    const auto& b = f.bytes;
    Seen s;
    s.sent_ns = f.sent_ns;
    if (b.size() < 14) continue;
    const uint16_t et = static_cast<uint16_t>((b[12] << 8) | b[13]);
    if (et == RTE_ETHER_TYPE_ARP) continue;  // answered by PeerPoll
    if (et != RTE_ETHER_TYPE_IPV4 || b.size() < 34) {
      s.what = absl::StrFormat("non-IPv4 frame, ethertype 0x%04x, %d bytes", et, b.size());
      pending_.push_back(s);
      continue;
    }
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(b.data() + 14);
    const size_t ihl = (ip->version_ihl & 0xf) * 4u;
    const size_t tot = rte_be_to_cpu_16(ip->total_length);
    if (ip->next_proto_id != 6 || b.size() < 14 + ihl + 20) {
      s.what = absl::StrFormat("IPv4 protocol %d, %d bytes", ip->next_proto_id, tot);
      pending_.push_back(s);
      continue;
    }
    const auto* th = reinterpret_cast<const tcp::TcpHeader*>(b.data() + 14 + ihl);
    s.tcp = true;
    s.sport = tcp::SrcPort(*th);
    s.dport = tcp::DstPort(*th);
    s.flags = tcp::Flags(*th);
    s.seq = tcp::Seq(*th);
    s.ack = tcp::AckSeq(*th);
    s.win = tcp::Window(*th);
    const size_t hl = tcp::HeaderLen(*th);
    if (hl < 20 || tot < ihl + hl || 14 + tot > b.size()) {
      s.tcp = false;
      s.what = absl::StrFormat("malformed TCP/IPv4 lengths (ip total %d, tcp header %d, frame %d)",
                               tot, hl, b.size());
      pending_.push_back(s);
      continue;
    }
    s.len = static_cast<uint32_t>(tot - ihl - hl);
    s.opts.assign(tcp::OptionsPtr(*th), tcp::OptionsPtr(*th) + tcp::OptionsLen(*th));
    // Checksums and options as a receiver would check them.
    std::string bad;
    if (rte_raw_cksum(ip, ihl) != 0xffff) bad = "bad IPv4 header checksum";
    else if (!TcpCksumOk(ip, reinterpret_cast<const uint8_t*>(th), tot - ihl))
      bad = "bad TCP checksum";
    else
      (void)DecodeOptions(s.opts, 0, &bad);
    if (!bad.empty()) s.what = bad;
    Conn& c = ConnFor(s.dport);
    if (c.dpx_port == 0) c.dpx_port = s.sport;
    std::string ignored;
    for (const ScriptOption& o : DecodeOptions(s.opts, 0, &ignored))
      if (o.kind == ScriptOption::Kind::kTimestamp) c.last_tsval = o.a.value;
    pending_.push_back(s);
  }
  wire_.ClearCapture();
}

ScriptPacket Runner::ToScript(const Seen& s, const Conn& c) const {
  ScriptPacket p;
  p.inbound = false;
  p.flags = s.flags;
  p.seq.value = s.seq - c.dpx_base();
  p.len = s.len;
  p.end_seq.value = p.seq.value + s.len;
  if (s.flags & tcp::TCPHDR_ACK) p.ack = Field{false, s.ack - c.peer_isn};
  p.win = Field{false, s.win};
  std::string bad;
  p.options = DecodeOptions(s.opts, c.peer_isn, &bad);
  return p;
}

std::string Runner::Describe(const Seen& s) {
  if (!s.tcp) return absl::StrCat(Secs(s.sent_ns), " ", s.what);
  Conn& c = ConnFor(s.dport);
  std::string port = s.dport == peer_port_ ? "" : absl::StrCat("   [peer port ", s.dport, "]");
  std::string extra = s.what.empty() ? "" : absl::StrCat("   [", s.what, "]");
  return absl::StrCat(Secs(s.sent_ns), " ", FormatPacket(ToScript(s, c)), port, extra);
}

absl::Status Runner::Fail(const ScriptLine& l, absl::string_view what) {
  std::string msg = absl::StrCat(script_.name, ":", l.line_no, ": ", what, "\n  line ",
                                 l.line_no, ": ", l.text, "\n  transcript (last lines):\n");
  const size_t from = transcript_.size() > kTranscriptTail ? transcript_.size() - kTranscriptTail : 0;
  for (size_t i = from; i < transcript_.size(); ++i) absl::StrAppend(&msg, "    ", transcript_[i], "\n");
  return absl::FailedPreconditionError(msg);
}

absl::Status Runner::CheckNothingPending(const ScriptLine* l) {
  if (pending_.empty()) return absl::OkStatus();
  std::string what = l ? absl::StrCat("dpx sent a segment the script did not expect (before line ",
                                      l->line_no, ", at ", Secs(clock_.NowNs()), " s):\n")
                       : absl::StrCat("dpx sent a segment the script did not expect (by the end "
                                      "of the script, ", Secs(clock_.NowNs()), " s):\n");
  absl::StrAppend(&what, "  expected: (none)\n");
  for (const Seen& s : pending_) absl::StrAppend(&what, "  seen:     ", Describe(s), "\n");
  if (l) return Fail(*l, what);
  std::string msg = absl::StrCat(script_.name, ":end: ", what, "  transcript (last lines):\n");
  const size_t from = transcript_.size() > kTranscriptTail ? transcript_.size() - kTranscriptTail : 0;
  for (size_t i = from; i < transcript_.size(); ++i) absl::StrAppend(&msg, "    ", transcript_[i], "\n");
  return absl::FailedPreconditionError(msg);
}

void Runner::Inject(std::vector<uint8_t> frame) {
  rte_mbuf* m = rte_pktmbuf_alloc(testing::TestPool());
  if (m == nullptr) return;
  char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
  std::memcpy(d, frame.data(), frame.size());
  if (wire_.b().TxBurst(&m, 1) != 1) rte_pktmbuf_free(m);
  Settle();
  Collect();
}

absl::Status Runner::DoInbound(const ScriptLine& l, const ScriptPacket& p) {
  Conn& c = ConnFor(peer_port_);
  if (c.dpx_port == 0) c.dpx_port = listen_port_;
  if (c.dpx_port == 0)
    return Fail(l, "no destination port: inject after listen() or connect()");
  // Options.
  std::vector<uint8_t> opt;
  auto put32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) opt.push_back(static_cast<uint8_t>(v >> s));
  };
  if (p.options) {
    for (const ScriptOption& o : *p.options) {
      switch (o.kind) {
        case ScriptOption::Kind::kNop: opt.push_back(tcp::kTcpOptNop); break;
        case ScriptOption::Kind::kEol: opt.push_back(tcp::kTcpOptEol); break;
        case ScriptOption::Kind::kMss:
          opt.insert(opt.end(), {tcp::kTcpOptMss, 4, static_cast<uint8_t>(o.a.value >> 8),
                                 static_cast<uint8_t>(o.a.value)});
          break;
        case ScriptOption::Kind::kWscale:
          opt.insert(opt.end(), {tcp::kTcpOptWindow, 3, static_cast<uint8_t>(o.a.value)});
          break;
        case ScriptOption::Kind::kSackOk:
          opt.insert(opt.end(), {tcp::kTcpOptSackPerm, 2});
          break;
        case ScriptOption::Kind::kTimestamp:
          opt.insert(opt.end(), {tcp::kTcpOptTimestamp, 10});
          put32(o.a.value);
          put32(o.b.any ? c.last_tsval : o.b.value);  // `ecr *`: echo dpx's latest
          break;
        case ScriptOption::Kind::kSack:
          opt.insert(opt.end(),
                     {tcp::kTcpOptSack, static_cast<uint8_t>(2 + 8 * o.sack_blocks.size())});
          for (const auto& [a, b] : o.sack_blocks) {
            put32(c.dpx_base() + a);
            put32(c.dpx_base() + b);
          }
          break;
      }
    }
  }
  while (opt.size() % 4) opt.push_back(tcp::kTcpOptEol);
  if (opt.size() > 40) return Fail(l, "options longer than 40 bytes");

  const size_t tcp_len = 20 + opt.size() + p.len;
  std::vector<uint8_t> f(14 + 20 + tcp_len, 0);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data());
  eth->dst_addr = kDpxMac;
  eth->src_addr = kPeerMac;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(20 + tcp_len));
  ip->packet_id = rte_cpu_to_be_16(ip_id_++);
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = 6;
  ip->src_addr = kPeerIp;
  ip->dst_addr = kDpxIp;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* th = reinterpret_cast<tcp::TcpHeader*>(f.data() + 34);
  tcp::SetSrcPort(*th, peer_port_);
  tcp::SetDstPort(*th, c.dpx_port);
  tcp::SetSeq(*th, c.peer_isn + p.seq.value);
  tcp::SetAckSeq(*th, p.ack ? c.dpx_base() + p.ack->value : 0);
  tcp::SetHeaderLen(*th, 20 + opt.size());
  tcp::SetFlags(*th, p.flags);
  tcp::SetWindow(*th, static_cast<uint16_t>(p.win ? p.win->value : 65535));
  if (!opt.empty()) std::memcpy(tcp::OptionsPtr(*th), opt.data(), opt.size());
  uint8_t* payload = f.data() + 34 + 20 + opt.size();
  for (uint32_t i = 0; i < p.len; ++i) payload[i] = static_cast<uint8_t>('a' + (p.seq.value + i) % 26);
  th->cksum = 0;
  th->cksum = rte_ipv4_udptcp_cksum(ip, th);

  ScriptPacket shown = p;
  Log(absl::StrCat(Secs(clock_.NowNs()), " ", FormatPacket(shown),
                   peer_port_ != kDefaultPeerPort ? absl::StrCat("   [peer port ", peer_port_, "]")
                                                  : ""));
  Inject(std::move(f));
  return absl::OkStatus();
}

absl::Status Runner::DoExpect(const ScriptLine& l, const ScriptPacket& want, uint64_t target_ns,
                              uint64_t* actual_ns) {
  const uint64_t deadline = target_ns + tolerance_ns_;
  while (pending_.empty() && clock_.NowNs() < deadline) {
    uint64_t next = std::min(reactor_.timers().NextExpiryNs(), deadline);
    if (next <= clock_.NowNs()) next = clock_.NowNs() + reactor_.timers().tick_ns();
    AdvanceTo(std::min(next, deadline));
  }
  const std::string want_s = FormatPacket(want);
  if (pending_.empty())
    return Fail(l, absl::StrCat("expected segment not sent (waited until ", Secs(deadline),
                                " s):\n  expected: ", Secs(target_ns), " ", want_s,
                                "\n  seen:     (nothing)"));
  Seen s = pending_.front();
  pending_.pop_front();
  if (!s.tcp || !s.what.empty())
    return Fail(l, absl::StrCat(s.tcp ? "malformed segment" : "expected a TCP segment",
                                ":\n  expected: ", Secs(target_ns), " ", want_s,
                                "\n  seen:     ", Describe(s)));
  Conn& c = ConnFor(s.dport);
  if ((s.flags & tcp::TCPHDR_SYN) && !c.dpx_isn)
    c.dpx_isn = s.seq - (want.seq.any ? 0 : want.seq.value);
  const ScriptPacket got = ToScript(s, c);
  std::vector<std::string> diffs;
  if (s.dport != peer_port_)
    diffs.push_back(absl::StrCat("to peer port ", s.dport, ", expected ", peer_port_));
  if (s.sent_ns + tolerance_ns_ < target_ns)
    diffs.push_back(absl::StrCat("sent at ", Secs(s.sent_ns), " s, expected at ", Secs(target_ns),
                                 " s (too early)"));
  if ((want.flags | want.flags_optional) != (got.flags | want.flags_optional))
    diffs.push_back("flags differ");
  if (!FieldMatches(want.seq, got.seq.value)) diffs.push_back("seq differs");
  if (!FieldMatches(want.end_seq, got.end_seq.value) || want.len != got.len)
    diffs.push_back("length differs");
  if (want.ack && (!got.ack || !FieldMatches(*want.ack, got.ack->value)))
    diffs.push_back("ack differs");
  if (want.win && !FieldMatches(*want.win, got.win->value)) diffs.push_back("window differs");
  if (want.options && !want.any_options) {
    const std::string d = CompareOptions(*want.options, *got.options);
    if (!d.empty()) diffs.push_back(d);
  }
  Log(absl::StrCat(Describe(s)));
  if (!diffs.empty())
    return Fail(l, absl::StrCat("segment differs (", absl::StrJoin(diffs, "; "),
                                "):\n  expected: ", Secs(target_ns), " ", want_s,
                                "\n  seen:     ", Describe(s)));
  *actual_ns = s.sent_ns;
  return absl::OkStatus();
}

absl::Status Runner::DoCall(const ScriptLine& l, const ScriptCall& c) {
  auto arg_int = [&](size_t i, int64_t* v) -> bool {
    if (i >= c.args.size()) return false;
    const ScriptArg& a = c.args[i];
    if (a.kind == ScriptArg::Kind::kInt) {
      *v = a.i;
      return true;
    }
    if (a.kind == ScriptArg::Kind::kName) return NameValue(a.s, v);
    return false;
  };
  auto bad = [&](absl::string_view why) { return Fail(l, absl::StrCat("bad call: ", why)); };
  auto proc = Acting();
  if (!proc) return Fail(l, absl::StrCat("no process ", acting_));
  if (proc->state() != sock::ProcState::kRunning)
    return Fail(l, absl::StrCat("process ", acting_, " has exited"));
  // Every call runs in the acting process through lib/socket (sock::Syscall),
  // with Linux's results; close_exiting(fd) and fcntl are the runner's own.
  sock::SyscallReq q;
  int64_t fd = -1;
  const bool takes_fd = c.name != "socket" && c.name != "fork" && c.name != "exit";
  if (takes_fd) {
    if (!arg_int(0, &fd)) return bad("first argument must be an fd");
    q.fd = static_cast<int>(fd);
  }
  int64_t r = 0;  // >= 0 result or -errno
  bool via_syscall = true;
  if (c.name == "socket") {
    q.op = sock::Sys::kSocket;
  } else if (c.name == "bind" || c.name == "connect") {
    q.op = c.name == "bind" ? sock::Sys::kBind : sock::Sys::kConnect;
    q.addr_be = c.name == "bind" ? 0 : kPeerIp;
    q.port = kDefaultDpxPort;
    if (c.args.size() > 1 && c.args[1].kind == ScriptArg::Kind::kAddr) {
      q.addr_be = c.args[1].addr;
      q.port = c.args[1].port;
    }
    if (c.name == "connect") {
      // A new connection: a fresh sequence space toward that peer port.
      peer_port_ = q.port;
      conns_.erase(q.port);
    }
  } else if (c.name == "listen") {
    if (!arg_int(1, &q.n)) return bad("listen(fd, backlog)");
    q.op = sock::Sys::kListen;
  } else if (c.name == "accept") {
    q.op = sock::Sys::kAccept;
  } else if (c.name == "write" || c.name == "send") {
    if (!arg_int(2, &q.n) || q.n < 0) return bad(absl::StrCat(c.name, "(fd, ..., N)"));
    int64_t fl = 0;
    if (c.args.size() > 3 && !arg_int(3, &fl)) return bad("send(fd, ..., N, FLAGS)");
    q.op = sock::Sys::kSend;
    q.flags = static_cast<int>(fl);
  } else if (c.name == "read" || c.name == "recv") {
    if (!arg_int(2, &q.n) || q.n < 0) return bad(absl::StrCat(c.name, "(fd, ..., N)"));
    q.op = sock::Sys::kRecv;
  } else if (c.name == "shutdown") {
    if (!arg_int(1, &q.n)) return bad("shutdown(fd, SHUT_RD|SHUT_WR|SHUT_RDWR)");
    q.op = sock::Sys::kShutdown;
  } else if (c.name == "close") {
    q.op = sock::Sys::kClose;
    ClosingFd(q.fd);
  } else if (c.name == "close_exiting") {
    // close_exiting(fd): the fd's reference dropped as an exiting process
    // drops it (inet_release with PF_EXITING: the linger time is ignored).
    via_syscall = false;
    sock::File* f = proc->fds().Get(q.fd);
    if (f == nullptr) {
      r = -EBADF;
    } else {
      ClosingFd(q.fd);
      proc->fds().Clear(q.fd);
      pt_->Fput(*proc, f, /*exiting=*/true);
      r = 0;
    }
  } else if (c.name == "dup") {
    q.op = sock::Sys::kDup;
  } else if (c.name == "dup2") {
    int64_t fd2;
    if (!arg_int(1, &fd2)) return bad("dup2(fd, fd2)");
    q.op = sock::Sys::kDup2;
    q.fd2 = static_cast<int>(fd2);
    if (q.fd2 != q.fd) ClosingFd(q.fd2);  // a socket there is closed by dup2
  } else if (c.name == "fork") {
    q.op = sock::Sys::kFork;
  } else if (c.name == "exit") {
    if (!arg_int(0, &q.n)) return bad("exit(N)");
    q.op = sock::Sys::kExit;
    // Every fd goes: remember the connections for %state afterwards.
    for (int f = proc->fds().NextOpen(0); f >= 0; f = proc->fds().NextOpen(f + 1)) ClosingFd(f);
  } else if (c.name == "setsockopt" || c.name == "getsockopt") {
    int64_t level = 0, name = 0;
    if (!arg_int(1, &level) || !arg_int(2, &name) || c.args.size() < 4)
      return bad(absl::StrCat(c.name, "(fd, level, name, value, len)"));
    q.op = c.name == "setsockopt" ? sock::Sys::kSetsockopt : sock::Sys::kGetsockopt;
    q.level = static_cast<int>(level);
    q.optname = static_cast<int>(name);
    const ScriptArg& v = c.args[3];
    if (c.name == "setsockopt") {
      if (v.kind == ScriptArg::Kind::kStruct) {
        for (const auto& [k, x] : v.fields) {
          if (k == "l_onoff") q.val[0] = static_cast<int>(x);
          else if (k == "l_linger") q.val[1] = static_cast<int>(x);
          else return bad(absl::StrCat("unknown field ", k));
        }
      } else {
        int64_t x;
        if (!arg_int(3, &x)) return bad("setsockopt value must be N, [N] or {...}");
        q.val[0] = static_cast<int>(x);
      }
    }
  } else if (c.name == "fcntl") {
    via_syscall = false;
    r = 0;  // every dpx socket is non-blocking already
  } else {
    return bad(absl::StrCat("unknown call '", c.name, "'"));
  }
  if (via_syscall) {
    sock::SyscallResult res;
    if (!Call(q, &res))
      return Fail(l, absl::StrCat(c.name, "() did not complete in process ", acting_));
    r = res.ret;
    if (r >= 0) {
      switch (q.op) {
        case sock::Sys::kSocket:
        case sock::Sys::kAccept:
          OpenedFd(static_cast<int>(r), /*new_socket=*/true);
          break;
        case sock::Sys::kDup:
        case sock::Sys::kDup2:
          OpenedFd(static_cast<int>(r), /*new_socket=*/false);
          break;
        case sock::Sys::kListen:
          if (Tcb* sk = FdSock(fd)) listen_port_ = rte_be_to_cpu_16(sk->c.sport);
          break;
        default:
          break;
      }
    }
    if (q.op == sock::Sys::kConnect)
      if (Tcb* sk = FdSock(fd)) ConnFor(q.port).dpx_port = rte_be_to_cpu_16(sk->c.sport);
    if (q.op == sock::Sys::kGetsockopt && r == 0) {
      const ScriptArg& v = c.args[3];
      if (v.kind == ScriptArg::Kind::kInt && res.val[0] != v.i)
        return Fail(l, absl::StrCat("getsockopt value ", res.val[0], ", expected ", v.i));
      if (v.kind == ScriptArg::Kind::kStruct)
        for (const auto& [k, x] : v.fields) {
          const int got = k == "l_onoff" ? res.val[0] : res.val[1];
          if (got != x)
            return Fail(l, absl::StrCat("getsockopt ", k, " = ", got, ", expected ", x));
        }
    }
  }
  Settle();
  Collect();
  const int64_t got_ret = r >= 0 ? r : -1;
  const std::string got_err = r >= 0 ? "" : ErrnoName(static_cast<int>(-r));
  const std::string got_s =
      absl::StrCat(c.name, "(...) = ", got_ret, got_err.empty() ? "" : " ", got_err);
  Log(absl::StrCat(Secs(clock_.NowNs()), " ", l.text, "   -> ", got_ret, " ", got_err));
  std::string want_err = c.err == "EWOULDBLOCK" ? "EAGAIN" : c.err;
  if (got_ret != c.ret || (c.ret == -1 && got_err != want_err))
    return Fail(l, absl::StrCat("call result differs:\n  expected: ", l.text, "\n  seen:     ",
                                got_s));
  return absl::OkStatus();
}

absl::Status Runner::DoDirective(const ScriptLine& l, const ScriptDirective& d) {
  const auto& w = d.words;
  Log(absl::StrCat(Secs(clock_.NowNs()), " ", l.text));
  if (d.name == "state") {
    int64_t fd;
    tcp::TcpState want;
    if (w.size() != 2 || !ParseI64(w[0], &fd))
      return Fail(l, "usage: %state FD STATE");
    if (!tcp::TcpStateFromName(w[1], &want) &&
        !tcp::TcpStateFromName(absl::StrCat("TCP_", w[1]), &want))
      return Fail(l, absl::StrCat("unknown state name '", w[1], "'"));
    // The acting process's fd; a closed one by its connection's addresses.
    tcp::TcpState got = tcp::TCP_CLOSE;
    if (Tcb* sk = FdSock(fd)) {
      got = sk->state();
    } else if (auto it = closed_.find({acting_, static_cast<int>(fd)}); it != closed_.end()) {
      // A closed fd: the connection lives on in the tables (orphan, TIME_WAIT) or is gone.
      const Tuple& t = it->second;
      if (tcp::SockCommon* s = tcp_->table().Lookup(t.saddr, t.sport, t.daddr, t.dport))
        got = static_cast<tcp::TcpState>(s->state);
    } else {
      return Fail(l, absl::StrCat("fd ", fd, " was never opened in process ", acting_));
    }
    if (got != want)
      return Fail(l, absl::StrCat("state of fd ", fd, " is ", std::string(tcp::TcpStateName(got)),
                                  ", expected ", std::string(tcp::TcpStateName(want))));
    return absl::OkStatus();
  }
  if (d.name == "counter") {
    Mib m;
    int64_t want;
    if (w.size() != 2 || !ParseI64(w[1], &want)) return Fail(l, "usage: %counter NAME VALUE");
    if (!MibByName(w[0], &m)) return Fail(l, absl::StrCat("unknown counter '", w[0], "'"));
    const int64_t got = mib_.Get(m);
    if (got != want)
      return Fail(l, absl::StrCat("counter ", w[0], " is ", got, ", expected ", want));
    return absl::OkStatus();
  }
  if (d.name == "sysctl") {
    if (auto st = ApplySysctl(tcp_->sysctl(), absl::StrJoin(w, " ")); !st.ok())
      return Fail(l, st.message());
    return absl::OkStatus();
  }
  if (d.name == "no_packet") return absl::OkStatus();  // checked before every line
  if (d.name == "sockstat") {
    // /proc/net/sockstat's TCP line: orphan (tcp_orphan_count, summed over
    // cores) and tw (TIME_WAIT mini-sockets).
    int64_t want;
    if (w.size() != 2 || !ParseI64(w[1], &want)) return Fail(l, "usage: %sockstat orphan|tw N");
    int64_t got;
    if (w[0] == "orphan") got = tcp_->shared().SumOrphans();
    else if (w[0] == "tw") got = tcp_->shared().SumTw();
    else return Fail(l, absl::StrCat("sockstat field '", w[0], "' is not exposed by dpx"));
    if (got != want)
      return Fail(l, absl::StrCat("sockstat ", w[0], " is ", got, ", expected ", want));
    return absl::OkStatus();
  }
  if (d.name == "close_done" || d.name == "close_blocked") {
    // Whether a lingering close() (SO_LINGER {1,N}) has completed: dpx
    // reports it with kEvCloseDone; Linux returns from close().
    int64_t fd;
    if (w.size() != 1 || !ParseI64(w[0], &fd)) return Fail(l, "usage: %close_done FD");
    auto it = closing_.find({acting_, static_cast<int>(fd)});
    if (it == closing_.end()) return Fail(l, absl::StrCat("fd ", fd, " was not closed"));
    const bool done = close_done_.count(it->second) > 0;
    if (done != (d.name == "close_done"))
      return Fail(l, absl::StrCat("close(", fd, ") has ", done ? "" : "not ", "completed"));
    return absl::OkStatus();
  }
  if (d.name == "proc") {
    // The process the following calls run in.
    int64_t pid;
    if (w.size() != 1 || !ParseI64(w[0], &pid)) return Fail(l, "usage: %proc PID");
    if (!pt_->Find(static_cast<int>(pid))) return Fail(l, absl::StrCat("no process ", pid));
    acting_ = static_cast<int>(pid);
    return absl::OkStatus();
  }
  if (d.name == "peer_port") {
    int64_t p;
    if (w.size() != 1 || !ParseI64(w[0], &p) || p <= 0 || p > 65535)
      return Fail(l, "usage: %peer_port N");
    peer_port_ = static_cast<uint16_t>(p);
    return absl::OkStatus();
  }
  if (d.name == "tolerance_ms") {
    double ms;
    if (w.size() != 1 || !absl::SimpleAtod(w[0], &ms) || ms < 0)
      return Fail(l, "usage: %tolerance_ms N");
    tolerance_ns_ = static_cast<uint64_t>(ms * 1e6);
    return absl::OkStatus();
  }
  return Fail(l, absl::StrCat("unknown directive '%", d.name, "'"));
}

absl::Status Runner::Run() {
  uint64_t prev_script = 0, prev_eff = 0;
  for (const ScriptLine& l : script_.lines) {
    const uint64_t eff = l.relative ? prev_eff + (l.time_ns - prev_script) : l.time_ns;
    uint64_t actual = eff;
    const auto* pkt = std::get_if<ScriptPacket>(&l.event);
    AdvanceTo(kStartNs + eff);
    absl::Status st;
    if (pkt && !pkt->inbound) {
      uint64_t at = 0;
      st = DoExpect(l, *pkt, kStartNs + eff, &at);
      if (st.ok()) actual = at - kStartNs;
    } else {
      // `%peer_port` only switches the connection the next lines mean:
      // segments still pending may be for it.
      const auto* dir = std::get_if<ScriptDirective>(&l.event);
      if (!(dir && dir->name == "peer_port")) st = CheckNothingPending(&l);
      if (st.ok()) {
        if (pkt) st = DoInbound(l, *pkt);
        else if (const auto* c = std::get_if<ScriptCall>(&l.event)) st = DoCall(l, *c);
        else st = DoDirective(l, std::get<ScriptDirective>(l.event));
      }
    }
    if (!st.ok()) return st;
    prev_script = l.time_ns;
    prev_eff = actual;
  }
  Settle();
  Collect();
  return CheckNothingPending(nullptr);
}

}  // namespace

absl::Status RunScript(const Script& script, const RunnerOptions& opts) {
  Runner r(script, opts);
  return r.Run();
}

absl::Status RunScriptFile(const std::string& path, const RunnerOptions& opts,
                           absl::string_view display_name) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto script = ParseScript(text, display_name.empty() ? absl::string_view(path) : display_name);
  if (!script.ok()) return script.status();
  return RunScript(*script, opts);
}

}  // namespace dpx::conformance
