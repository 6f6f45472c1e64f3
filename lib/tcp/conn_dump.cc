// ss-like view of one core's connections: Linux inet_diag (inet_diag.c
// inet_diag_dump_icsk, inet_sk_diag_fill, inet_twsk_diag_fill,
// tcp_diag.c tcp_diag_get_info) and iproute2 ss (scan_state,
// print_ms_timer, tcp_timer_print, print_summary).
#include "tcp/conn_dump.h"

#include <cstdint>
#include <utility>

#include <rte_byteorder.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/reactor.h"
#include "net/ipv4_addr.h"
#include "tcp/tcp_stack.h"
#include "tcp/time_wait.h"

namespace dpx::tcp {

namespace {
// This absl may have its own string_view, not std's.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

// ---------------------------------------------------------------- rows

std::string_view ConnTimerName(ConnTimer t) {
  switch (t) {
    case ConnTimer::kOff: return "off";
    case ConnTimer::kOn: return "on";
    case ConnTimer::kKeepalive: return "keepalive";
    case ConnTimer::kTimeWait: return "timewait";
    case ConnTimer::kPersist: return "persist";
  }
  return "unknown";
}

namespace {

// jiffies_delta_to_msecs(timer.expires - jiffies): 0 when due or late.
uint32_t TimerLeftMs(const TimerWheel& w, const Timer& t) {
  const uint64_t tick_ns = w.tick_ns();
  const auto now_tick = static_cast<uint32_t>(w.now_ns() / tick_ns);
  const auto left = static_cast<int32_t>(t.expires - now_tick);
  if (left <= 0) return 0;
  return static_cast<uint32_t>(uint64_t(left) * tick_ns / 1'000'000);
}

// A SYN_RECV child not yet established: Linux's request socket.
bool IsRequestSock(const Tcb* tp) {
  return tp->state() == TCP_SYN_RECV && tp->parent != nullptr && !tp->flag(SOCK_IN_ACCEPTQ);
}

void FillFull(TcpStack& st, const Tcb* tp, OwnerFn owner, ConnRow* r) {
  r->state = tp->state();
  if (tp->state() == TCP_LISTEN) {
    // tcp_diag_get_info: sk_ack_backlog / sk_max_ack_backlog.
    if (tp->lq != nullptr) {
      r->recv_q = tp->lq->ack_backlog;
      r->send_q = tp->lq->max_ack_backlog;
    }
  } else if (!IsRequestSock(tp)) {
    const auto rq = static_cast<int32_t>(tp->rcv_nxt - tp->copied_seq);
    r->recv_q = rq > 0 ? static_cast<uint32_t>(rq) : 0;
    r->send_q = tp->write_seq - tp->snd_una;
  }
  // inet_sk_diag_fill: icsk_pending first, then the keepalive timer.
  const TimerWheel& w = st.reactor().timers();
  if (tp->retransmit_timer.armed() && tp->pending == ICSK_TIME_PROBE0) {
    r->timer = ConnTimer::kPersist;
    r->retrans = tp->probes_out;
    r->timer_ms = TimerLeftMs(w, tp->retransmit_timer);
  } else if (tp->retransmit_timer.armed()) {
    r->timer = ConnTimer::kOn;
    r->retrans = tp->retransmits;
    r->timer_ms = TimerLeftMs(w, tp->retransmit_timer);
  } else if (tp->keepalive_timer.armed()) {
    r->timer = ConnTimer::kKeepalive;
    r->retrans = tp->probes_out;
    r->timer_ms = TimerLeftMs(w, tp->keepalive_timer);
  }
  r->orphan = tp->flag(SOCK_DEAD);
  if (owner != nullptr && !r->orphan) {
    int pid = 0, fd = -1;
    if (owner(tp, &pid, &fd)) {
      r->pid = pid;
      r->fd = fd;
    }
  }
}

void FillTw(TcpStack& st, const TwSock* tw, ConnRow* r) {
  r->state = tw->substate();
  r->timewait_sock = true;
  r->timer = ConnTimer::kTimeWait;
  r->timer_ms = tw->timer.armed() ? TimerLeftMs(st.reactor().timers(), tw->timer) : 0;
}

}  // namespace

ConnRow ConnRowOf(TcpStack& st, const SockCommon* sk, OwnerFn owner) {
  ConnRow r;
  r.laddr = sk->saddr;
  r.raddr = sk->daddr;
  r.lport = rte_be_to_cpu_16(sk->sport);
  r.rport = rte_be_to_cpu_16(sk->dport);
  r.core = st.config().core_index;
  if (sk->kind == SockKind::kTimeWait)
    FillTw(st, reinterpret_cast<const TwSock*>(sk), &r);
  else
    FillFull(st, reinterpret_cast<const Tcb*>(sk), owner, &r);
  return r;
}

// ---------------------------------------------------------------- filter

bool SsStateSet(std::string_view name, uint32_t* states) {
  const std::string n = absl::AsciiStrToLower(AV(name));
  uint32_t s = 0;
  if (n == "close" || n == "closed") {
    s = TCPF_CLOSE;
  } else if (n == "syn-rcv") {
    s = TCPF_SYN_RECV;
  } else if (n == "all") {
    s = kSsAllStates;
  } else if (n == "connected") {
    s = kSsAllStates & ~(TCPF_CLOSE | TCPF_LISTEN);
  } else if (n == "synchronized") {
    s = kSsAllStates & ~(TCPF_CLOSE | TCPF_LISTEN | TCPF_SYN_SENT);
  } else if (n == "bucket") {
    s = TCPF_SYN_RECV | TCPF_TIME_WAIT;
  } else if (n == "big") {
    s = kSsAllStates & ~(TCPF_SYN_RECV | TCPF_TIME_WAIT);
  } else {
    for (uint8_t i = TCP_ESTABLISHED; i <= TCP_CLOSING; ++i) {
      if (n == SsStateFilterName(static_cast<TcpState>(i))) {
        s = 1u << i;
        break;
      }
    }
  }
  if (s == 0) return false;
  *states = s;
  return true;
}

bool ConnFilter::StateMatches(const ConnRow& r) const {
  // inet_diag tests a mini-socket's sk_state (TIME_WAIT), whatever its
  // substate; a request socket is tested as SYN_RECV.
  const TcpState s = r.timewait_sock ? TCP_TIME_WAIT : r.state;
  return (states & TcpStateBit(s)) != 0;
}

namespace {

bool PortOk(PortOp op, uint16_t have, uint16_t want) {
  switch (op) {
    case PortOp::kEq: return have == want;
    case PortOp::kNe: return have != want;
    case PortOp::kLt: return have < want;
    case PortOp::kGt: return have > want;
    case PortOp::kLe: return have <= want;
    case PortOp::kGe: return have >= want;
  }
  return false;
}

}  // namespace

bool ConnFilter::Matches(const ConnRow& r) const {
  if (!StateMatches(r)) return false;
  if (core >= 0 && static_cast<unsigned>(core) != r.core) return false;
  if (pid != 0 && r.pid != pid) return false;
  for (const AddrMatch& a : addrs) {
    const uint32_t addr = a.local ? r.laddr : r.raddr;
    const uint16_t port = a.local ? r.lport : r.rport;
    if (a.prefix_len != 0) {
      const uint32_t mask = Ipv4PrefixMask(a.prefix_len);
      if ((addr & mask) != (a.addr & mask)) return false;
    }
    if (a.has_port && port != a.port) return false;
  }
  for (const PortMatch& p : ports)
    if (!PortOk(p.op, p.local ? r.lport : r.rport, p.port)) return false;
  return true;
}

namespace {

absl::Status Bad(std::string_view what) { return absl::InvalidArgumentError(AV(what)); }

bool ParsePort(std::string_view s, uint16_t* out) {
  if (!s.empty() && s.front() == ':') s.remove_prefix(1);
  uint32_t v = 0;
  if (s.empty() || !absl::SimpleAtoi(AV(s), &v) || v > 65535) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  *out = static_cast<uint16_t>(v);
  return true;
}

bool ParseOp(std::string_view s, PortOp* op) {
  if (s == "=" || s == "==" || s == "eq") *op = PortOp::kEq;
  else if (s == "!=" || s == "ne" || s == "neq") *op = PortOp::kNe;
  else if (s == "<" || s == "lt") *op = PortOp::kLt;
  else if (s == ">" || s == "gt") *op = PortOp::kGt;
  else if (s == "<=" || s == "le") *op = PortOp::kLe;
  else if (s == ">=" || s == "ge") *op = PortOp::kGe;
  else return false;
  return true;
}

// ADDR[/LEN][:PORT], ADDR '*' or empty.
bool ParseAddrMatch(std::string_view s, AddrMatch* m) {
  std::string_view addr = s, port;
  if (const size_t colon = s.rfind(':'); colon != std::string_view::npos) {
    addr = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port != "*") {
      if (!ParsePort(port, &m->port)) return false;
      m->has_port = true;
    }
  }
  if (addr.empty() || addr == "*" || addr == "0.0.0.0/0") {
    m->prefix_len = 0;
    return m->has_port || !addr.empty();
  }
  if (addr.find('/') != std::string_view::npos) {
    uint8_t len = 0;
    if (!ParseIpv4Prefix(addr, &m->addr, &len)) return false;
    m->prefix_len = len;
    if (len == 0) m->addr = 0;
    return true;
  }
  if (!ParseIpv4(addr, &m->addr)) return false;
  m->prefix_len = 32;
  return true;
}

}  // namespace

absl::StatusOr<ConnFilter> ParseConnFilter(const std::vector<std::string>& words,
                                           uint32_t default_states) {
  ConnFilter f;
  bool have_state = false;
  uint32_t states = 0, excluded = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string w = absl::AsciiStrToLower(words[i]);
    auto next = [&](std::string_view what) -> absl::StatusOr<std::string> {
      if (i + 1 >= words.size()) return Bad(absl::StrCat("\"", w, "\" needs ", AV(what)));
      return words[++i];
    };
    if (w == "and" || w == "&&") continue;
    if (w == "or" || w == "||" || w == "not" || w == "!" || w == "(" || w == ")") {
      return Bad(absl::StrCat("\"", words[i], "\": filter expressions are not supported; ",
                              "conditions are joined by \"and\""));
    }
    if (w == "state" || w == "exclude") {
      auto v = next("a state name");
      if (!v.ok()) return v.status();
      uint32_t s = 0;
      if (!SsStateSet(*v, &s)) {
        return Bad(absl::StrCat("wrong state name: \"", *v,
                                "\" (established, syn-sent, syn-recv, fin-wait-1, fin-wait-2, "
                                "time-wait, closed, close-wait, last-ack, listening, closing, "
                                "all, connected, synchronized, bucket, big)"));
      }
      if (w == "state") {
        states |= s;
        have_state = true;
      } else {
        excluded |= s;
      }
    } else if (w == "src" || w == "dst") {
      auto v = next("ADDR[/LEN][:PORT]");
      if (!v.ok()) return v.status();
      AddrMatch m;
      m.local = (w == "src");
      if (!ParseAddrMatch(*v, &m))
        return Bad(absl::StrCat("bad address \"", *v, "\" after ", w, " (ADDR[/LEN][:PORT])"));
      f.addrs.push_back(m);
    } else if (w == "sport" || w == "dport") {
      PortMatch p;
      p.local = (w == "sport");
      auto v = next("a port");
      if (!v.ok()) return v.status();
      std::string arg = *v;
      if (ParseOp(arg, &p.op)) {
        auto v2 = next("a port");
        if (!v2.ok()) return v2.status();
        arg = *v2;
      }
      if (!ParsePort(arg, &p.port))
        return Bad(absl::StrCat("bad port \"", arg, "\" after ", w, " (0..65535, \":80\" or \"80\")"));
      f.ports.push_back(p);
    } else if (w == "pid" || w == "core") {
      auto v = next("a number");
      if (!v.ok()) return v.status();
      int n = 0;
      if (!absl::SimpleAtoi(*v, &n) || n < 0 || (w == "pid" && n == 0))
        return Bad(absl::StrCat("bad ", w, " \"", *v, "\""));
      if (w == "pid") f.pid = n;
      else f.core = n;
    } else {
      return Bad(absl::StrCat("unknown filter word \"", words[i],
                              "\" (state, exclude, src, dst, sport, dport, pid, core)"));
    }
  }
  f.states = (have_state ? states : default_states) & ~excluded;
  return f;
}

// ---------------------------------------------------------------- dump

ConnDumper::ConnDumper(TcpStack& st, ConnFilter filter, OwnerFn owner)
    : st_(st), filter_(std::move(filter)), owner_(owner) {}

bool ConnDumper::Next(std::vector<ConnRow>* out, size_t max_rows) {
  const ConnTable& t = st_.table();
  size_t budget = budget_;
  size_t rows = 0;
  while (phase_ != Phase::kDone) {
    if (rows >= max_rows || budget == 0) return true;
    const bool listen = phase_ == Phase::kListen;
    const size_t nb = listen ? t.listener_buckets() : t.buckets();
    if (bucket_ >= nb) {
      phase_ = listen ? Phase::kEstab : Phase::kDone;
      bucket_ = pos_ = 0;
      continue;
    }
    // Examine bucket_ from position pos_; stop inside it when a limit is hit.
    size_t n = 0;  // entries in the bucket now
    bool stopped = false;
    auto visit = [&](SockCommon* s) {
      if (stopped || n++ < pos_) return;
      ++pos_;
      ++visited_;
      --budget;
      ConnRow probe;  // state test first: the owner lookup is not free
      probe.state = s->kind == SockKind::kTimeWait ? TCP_TIME_WAIT : static_cast<TcpState>(s->state);
      probe.timewait_sock = s->kind == SockKind::kTimeWait;
      if (filter_.StateMatches(probe)) {
        ConnRow r = ConnRowOf(st_, s, owner_);
        if (filter_.Matches(r)) {
          out->push_back(r);
          ++rows;
        }
      }
      if (rows >= max_rows || budget == 0) stopped = true;
    };
    if (listen)
      t.ForEachListenerInBucket(bucket_, [&](Tcb* tp) { visit(&tp->c); });
    else
      t.ForEachInBucket(bucket_, visit);
    if (stopped) {
      // Count the rest of the chain to know whether this bucket is finished.
      n = 0;
      if (listen)
        t.ForEachListenerInBucket(bucket_, [&](Tcb*) { ++n; });
      else
        t.ForEachInBucket(bucket_, [&](SockCommon*) { ++n; });
      if (pos_ < n) return true;
    }
    // Bucket done (or it shrank below pos_ since the last chunk).
    ++bucket_;
    pos_ = 0;
    if (budget > 0) --budget;
  }
  return false;
}

// ---------------------------------------------------------------- summary

ConnSummary& ConnSummary::operator+=(const ConnSummary& o) {
  for (size_t i = 0; i < TCP_MAX_STATES; ++i) by_state[i] += o.by_state[i];
  alloc += o.alloc;
  hashed += o.hashed;
  estab += o.estab;
  orphaned += o.orphaned;
  timewait += o.timewait;
  synrecv += o.synrecv;
  listen += o.listen;
  return *this;
}

ConnSummarizer::ConnSummarizer(TcpStack& st) : st_(st) {
  sum_.alloc = static_cast<int64_t>(st.sockets_in_use());
  sum_.orphaned = st.orphan_count();
}

bool ConnSummarizer::Step(size_t budget) {
  if (done_) return false;
  const ConnTable& t = st_.table();
  if (!listen_done_) {
    // Listeners are few: one go.
    t.ForEachListener([&](Tcb*) {
      ++sum_.by_state[TCP_LISTEN];
      ++sum_.listen;
      ++sum_.hashed;
    });
    listen_done_ = true;
  }
  if (budget == 0) budget = 1;
  while (budget > 0 && bucket_ < t.buckets()) {
    t.ForEachInBucket(bucket_, [&](SockCommon* s) {
      if (budget > 0) --budget;
      const auto st = static_cast<TcpState>(s->state);
      ++sum_.by_state[st < TCP_MAX_STATES ? st : 0];
      if (s->kind == SockKind::kTimeWait) {
        ++sum_.timewait;
        return;
      }
      ++sum_.hashed;
      if (st == TCP_ESTABLISHED || st == TCP_CLOSE_WAIT) ++sum_.estab;
      if (st == TCP_SYN_RECV) ++sum_.synrecv;
    });
    ++bucket_;
    if (budget > 0) --budget;
  }
  if (bucket_ >= t.buckets()) done_ = true;
  return !done_;
}

ConnSummary SummarizeConns(TcpStack& st) {
  ConnSummarizer s(st);
  while (s.Step(SIZE_MAX)) {
  }
  return s.summary();
}

// ---------------------------------------------------------------- text

std::string_view ConnRowStateName(const ConnRow& r) { return SsStateName(r.state); }

std::string FormatAddrPort(uint32_t addr_be, uint16_t port) {
  return port == 0 ? absl::StrCat(FormatIpv4(addr_be), ":*")
                   : absl::StrCat(FormatIpv4(addr_be), ":", port);
}

// iproute2 print_ms_timer, with the "9.501sec" fix of recent iproute2
// (older releases print "9.501ms").
std::string FormatMsTimer(uint32_t timeout) {
  int secs = static_cast<int>(timeout / 1000);
  const int minutes = secs / 60;
  secs %= 60;
  int msecs = static_cast<int>(timeout % 1000);
  std::string buf;
  if (minutes) {
    msecs = 0;
    absl::StrAppend(&buf, minutes, "min");
    if (minutes > 9) secs = 0;
  }
  if (secs) {
    if (secs > 9) msecs = 0;
    absl::StrAppend(&buf, secs, msecs ? "." : "sec");
  }
  if (msecs) absl::StrAppend(&buf, absl::StrFormat("%03d", msecs), secs ? "sec" : "ms");
  return buf;
}

std::string FormatConnTimer(const ConnRow& r) {
  if (r.timer == ConnTimer::kOff) return "";
  return absl::StrCat("timer:(", AV(ConnTimerName(r.timer)), ",", FormatMsTimer(r.timer_ms), ",",
                      r.retrans, ")");
}

std::string FormatConnUsers(const ConnRow& r, std::string_view comm) {
  if (r.pid == 0) return "";
  if (comm.empty()) return absl::StrFormat("users:((pid=%d,fd=%d))", r.pid, r.fd);
  return absl::StrFormat("users:((\"%s\",pid=%d,fd=%d))", comm, r.pid, r.fd);
}

std::string FormatConnHeader() {
  return absl::StrFormat("%-10s %-6s %-6s %-21s %-21s %-28s %-30s %s", "State", "Recv-Q", "Send-Q",
                         "Local Address:Port", "Peer Address:Port", "Process", "Timer", "Core");
}

std::string FormatConnRow(const ConnRow& r, std::string_view comm) {
  return absl::StrFormat("%-10s %-6u %-6u %-21s %-21s %-28s %-30s %u", ConnRowStateName(r),
                         r.recv_q, r.send_q, FormatAddrPort(r.laddr, r.lport),
                         FormatAddrPort(r.raddr, r.rport), FormatConnUsers(r, comm),
                         FormatConnTimer(r), r.core);
}

std::string FormatConnSummary(const ConnSummary& s) {
  std::string out = absl::StrFormat("TCP:   %d (estab %d, closed %d, orphaned %d, timewait %d)\n",
                                    s.total(), s.estab, s.closed(), s.orphaned, s.timewait);
  absl::StrAppend(&out, absl::StrFormat("       listen %d, synrecv %d, inuse %d, alloc %d\n",
                                        s.listen, s.synrecv, s.hashed, s.alloc));
  std::string states;
  for (uint8_t i = TCP_ESTABLISHED; i <= TCP_CLOSING; ++i) {
    if (s.by_state[i] == 0) continue;
    absl::StrAppend(&states, states.empty() ? "" : ", ", AV(SsStateName(static_cast<TcpState>(i))), " ",
                    s.by_state[i]);
  }
  if (!states.empty()) absl::StrAppend(&out, "       by state: ", states, "\n");
  return out;
}

}  // namespace dpx::tcp
