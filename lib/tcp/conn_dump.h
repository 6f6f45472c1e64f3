// The connection table as `ss -tanoe` shows it, for one core's TcpStack:
// rows (ConnRow), filters (ConnFilter, parsed from ss-style words), a
// resumable dump cursor (ConnDumper) and a per-state summary (`ss -s`).
//
// Everything here runs on the stack's own core (a control message handler,
// a deferred task): it reads the core's tables without locks. A dump of a
// million sockets is produced in chunks: each ConnDumper::Next() call does
// a bounded amount of work and remembers only (phase, bucket, position in
// the bucket), like inet_diag's cb->args, never a socket pointer. A socket
// created or destroyed between two chunks may be missed or shown once; a
// bucket whose chain changed between chunks may show an entry twice or skip
// one (inet_diag has the same property).
//
// What is walked: the listener table (LISTEN), then the established hash:
// full sockets in every other state (orphans, SYN_RECV children -- Linux's
// request sockets -- and not-yet-accepted children included) and TIME_WAIT
// mini-sockets. Sockets that are neither listening nor hashed (fresh,
// bound-only, closed) are not shown, as with inet_diag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tcp/tcp_state.h"

namespace dpx::tcp {

class TcpStack;
struct Tcb;
struct SockCommon;

// ---------------------------------------------------------------- rows

// The timer column of `ss -o` (iproute2 tmr_name[], inet_diag idiag_timer).
enum class ConnTimer : uint8_t {
  kOff = 0,        // none armed (ss prints nothing)
  kOn = 1,         // retransmit (data, SYN, SYN-ACK)
  kKeepalive = 2,  // keepalive timer (also FIN_WAIT2 orphans, linger wait)
  kTimeWait = 3,   // TIME_WAIT mini-socket (either substate)
  kPersist = 4,    // zero-window probe
};
std::string_view ConnTimerName(ConnTimer t);  // "off" "on" "keepalive" "timewait" "persist"

struct ConnRow {
  // What ss shows: a TIME_WAIT mini-socket shows its substate (TIME_WAIT or
  // FIN_WAIT2, Linux inet_twsk_diag_fill); a SYN_RECV child SYN_RECV.
  TcpState state = TCP_CLOSE;
  bool timewait_sock = false;  // a mini-socket (filters see it as TIME_WAIT)
  // Recv-Q / Send-Q as ss shows them (tcp_diag_get_info): listeners: accept
  // queue length / backlog; others: rcv_nxt - copied_seq / write_seq -
  // snd_una; TIME_WAIT and SYN_RECV request sockets: 0 / 0.
  uint32_t recv_q = 0;
  uint32_t send_q = 0;
  uint32_t laddr = 0;  // network order (as in SockCommon)
  uint32_t raddr = 0;  // network order
  uint16_t lport = 0;  // host order
  uint16_t rport = 0;  // host order
  // `ss -o`: timer:(<name>,<time left>,<retrans>). retrans: icsk_retransmits
  // for "on", icsk_probes_out for "persist"/"keepalive", 0 for "timewait".
  ConnTimer timer = ConnTimer::kOff;
  uint32_t timer_ms = 0;  // time left, ms (0 when due)
  uint32_t retrans = 0;
  int pid = 0;    // owner (OwnerFn); 0 / -1 when none (orphans, mini-sockets)
  int fd = -1;
  unsigned core = 0;    // TcpStackConfig::core_index
  bool orphan = false;  // SOCK_DEAD: closed by its owner, still finishing
};

// ---------------------------------------------------------------- filter

// State sets: bit (1 << TcpState), as TcpStateFlag.
inline constexpr uint32_t kSsAllStates =
    TCPF_ESTABLISHED | TCPF_SYN_SENT | TCPF_SYN_RECV | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
    TCPF_TIME_WAIT | TCPF_CLOSE | TCPF_CLOSE_WAIT | TCPF_LAST_ACK | TCPF_LISTEN | TCPF_CLOSING;
// What `ss -t` shows without -a / state (iproute2 SS_CONN): no LISTEN,
// CLOSE, TIME_WAIT, SYN_RECV.
inline constexpr uint32_t kSsDefaultStates =
    kSsAllStates & ~(TCPF_LISTEN | TCPF_CLOSE | TCPF_TIME_WAIT | TCPF_SYN_RECV);
// `ss -l`.
inline constexpr uint32_t kSsListeningStates = TCPF_LISTEN;

// "state NAME" as ss scan_state() reads it (case-insensitive): a single
// state by its ss filter name (established, syn-sent, syn-recv, syn-rcv,
// fin-wait-1, fin-wait-2, time-wait, closed/close/unconnected, close-wait,
// last-ack, listening, closing) or a group: all, connected (all but
// LISTEN, CLOSE), synchronized (connected but SYN_SENT), bucket (SYN_RECV,
// TIME_WAIT), big (all but SYN_RECV, TIME_WAIT). False when unknown.
bool SsStateSet(std::string_view name, uint32_t* states);

// Port comparison of `sport OP :PORT` / `dport OP :PORT`.
enum class PortOp : uint8_t { kEq, kNe, kLt, kGt, kLe, kGe };

struct PortMatch {
  bool local = true;  // sport (local) or dport (remote)
  PortOp op = PortOp::kEq;
  uint16_t port = 0;  // host order
};

// `src ADDR[/LEN][:PORT]` / `dst ...`; ADDR may be '*' or empty (":80").
struct AddrMatch {
  bool local = true;   // src (local) or dst (remote)
  uint32_t addr = 0;   // network order
  uint8_t prefix_len = 0;  // 0: any address
  bool has_port = false;
  uint16_t port = 0;   // host order
};

// Every condition must hold (ss's implicit "and").
struct ConnFilter {
  uint32_t states = kSsAllStates;
  std::vector<AddrMatch> addrs;
  std::vector<PortMatch> ports;
  int pid = 0;    // 0: any owner
  int core = -1;  // -1: any core

  bool StateMatches(const ConnRow& r) const;
  bool Matches(const ConnRow& r) const;  // states, addresses, ports, pid, core
};

// Parses ss-style filter words, e.g.
//   {"state", "established", "dport", "80", "pid", "101", "src", "10.0.0.1"}
//   {"state", "time-wait", "exclude", "fin-wait-2", "sport", "=", ":8080"}
//   {"dst", "10.0.0.0/24:443", "and", "sport", ">", "1024"}
// Words: state NAME (repeatable, the union), exclude NAME (removes),
// src|dst ADDR[/LEN][:PORT] (ADDR '*' or empty: any), sport|dport [OP]
// [:]PORT with OP one of = == eq != ne neq < lt > gt <= le >= ge (words
// separated: "sport = :80", not "sport=:80"), pid N, core N, "and"
// (ignored). "or", "not", "(" are refused (no expressions). Words are
// case-insensitive.
// `default_states` applies when no "state" word appears (kSsAllStates for
// `ss -a`, kSsDefaultStates for plain `ss`). Errors are InvalidArgument
// naming the bad word.
absl::StatusOr<ConnFilter> ParseConnFilter(const std::vector<std::string>& words,
                                           uint32_t default_states = kSsAllStates);

// ---------------------------------------------------------------- dump

// The owner of a full socket (lib/socket's sock::SockOwner has this
// signature): true and pid/fd when a process holds it in an fd table.
using OwnerFn = bool (*)(const Tcb* sk, int* pid, int* fd);

// The row of a hashed object: a full socket or a TIME_WAIT mini-socket
// (dispatch on sk->kind); no filtering. `owner` may be nullptr.
ConnRow ConnRowOf(TcpStack& st, const SockCommon* sk, OwnerFn owner);

class ConnDumper {
 public:
  // Per Next() call at most this many sockets/buckets are visited, whatever
  // max_rows is, so a filter that matches nothing still yields the core.
  static constexpr size_t kDefaultVisitBudget = 16384;

  ConnDumper(TcpStack& st, ConnFilter filter, OwnerFn owner = nullptr);

  // Appends up to `max_rows` (> 0) matching rows to *out. Returns true while more
  // may follow (call again, e.g. on the next reactor iteration; a call may
  // append nothing and still return true), false once the walk is finished
  // (that last call may have appended rows too).
  bool Next(std::vector<ConnRow>* out, size_t max_rows);
  bool done() const { return phase_ == Phase::kDone; }
  size_t visited() const { return visited_; }  // sockets examined so far
  void set_visit_budget(size_t n) { budget_ = n ? n : 1; }

 private:
  enum class Phase : uint8_t { kListen, kEstab, kDone };
  TcpStack& st_;
  ConnFilter filter_;
  OwnerFn owner_;
  Phase phase_ = Phase::kListen;
  size_t bucket_ = 0;  // next bucket of the current phase's table
  size_t pos_ = 0;     // entries of bucket_ already examined
  size_t visited_ = 0;
  size_t budget_ = kDefaultVisitBudget;
};

// ---------------------------------------------------------------- summary

// `ss -s` for TCP, from this core's tables; sum cores with +=.
struct ConnSummary {
  // Hashed sockets by the state ss shows (mini-sockets by substate).
  int64_t by_state[TCP_MAX_STATES] = {};
  int64_t alloc = 0;     // full sockets allocated (sockstat alloc), orphans included
  int64_t hashed = 0;    // full sockets in the tables (sockstat inuse)
  int64_t estab = 0;     // ESTABLISHED + CLOSE_WAIT (Tcp CurrEstab, what ss -s prints)
  int64_t orphaned = 0;  // orphans (this core's tcp_orphan_count slot)
  int64_t timewait = 0;  // mini-sockets (TIME_WAIT and FIN_WAIT2 substates)
  int64_t synrecv = 0;   // SYN_RECV children (request sockets)
  int64_t listen = 0;

  // ss -s: "TCP:   <total> (estab E, closed C, orphaned O, timewait T)".
  int64_t total() const { return alloc + timewait; }
  // ss -s computes closed = alloc - (inuse - tw): kept as ss prints it.
  int64_t closed() const { return alloc - (hashed - timewait); }
  ConnSummary& operator+=(const ConnSummary& o);
};

// Resumable like ConnDumper (a million sockets are not counted in one go).
class ConnSummarizer {
 public:
  explicit ConnSummarizer(TcpStack& st);
  // Visits up to `budget` sockets/buckets; false once finished.
  bool Step(size_t budget = ConnDumper::kDefaultVisitBudget);
  bool done() const { return done_; }
  const ConnSummary& summary() const { return sum_; }

 private:
  TcpStack& st_;
  ConnSummary sum_;
  bool listen_done_ = false;
  bool done_ = false;
  size_t bucket_ = 0;
};

// Runs a ConnSummarizer to the end (tests, small tables).
ConnSummary SummarizeConns(TcpStack& st);

// ---------------------------------------------------------------- text

// "State      Recv-Q Send-Q Local Address:Port     Peer Address:Port      Process ... Timer ... Core"
std::string FormatConnHeader();
// One line in the same columns, e.g.
//   ESTAB      0      0      10.0.0.1:80            10.0.0.2:40000        users:((pid=101,fd=5))  timer:(keepalive,119min,0)  0
// `comm`: the owner's process name, printed as ss does ("nginx") when set.
std::string FormatConnRow(const ConnRow& r, std::string_view comm = {});
// Pieces, for JSON and other renderings.
std::string_view ConnRowStateName(const ConnRow& r);  // "ESTAB", "TIME-WAIT", ...
std::string FormatAddrPort(uint32_t addr_be, uint16_t port);  // "10.0.0.1:80", "0.0.0.0:*"
std::string FormatMsTimer(uint32_t ms);  // iproute2 print_ms_timer: "43sec", "200ms", "119min"
// "timer:(timewait,43sec,0)"; empty when r.timer == kOff.
std::string FormatConnTimer(const ConnRow& r);
// "users:((\"comm\",pid=101,fd=5))" / "users:((pid=101,fd=5))"; empty when no owner.
std::string FormatConnUsers(const ConnRow& r, std::string_view comm = {});
std::string FormatConnSummary(const ConnSummary& s);

}  // namespace dpx::tcp
