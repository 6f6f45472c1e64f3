#include "tcp/sysctl_table.h"

#include <cstdint>
#include <functional>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tcp/congestion.h"

namespace dpx::tcp {

namespace {

using Values = std::vector<int64_t>;

// One tunable: how many integers it takes, their range, and where they live.
// `check` adds constraints between values (tcp_mem ordering, port range).
struct Entry {
  const char* name;
  const char* help;
  size_t count;
  int64_t min;
  int64_t max;
  std::function<Values(const TcpSysctls&)> get;
  std::function<void(TcpSysctls&, const Values&)> set;
  std::function<absl::Status(const Values&)> check = nullptr;
};

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();

// Binds a scalar field: reads and writes it through its own type.
template <typename T>
Entry Scalar(const char* name, const char* help, int64_t min, int64_t max, T TcpSysctls::*field) {
  return Entry{name, help, 1, min, max,
               [field](const TcpSysctls& s) { return Values{static_cast<int64_t>(s.*field)}; },
               [field](TcpSysctls& s, const Values& v) { s.*field = static_cast<T>(v[0]); }};
}

template <typename T, size_t N>
Entry Vector(const char* name, const char* help, int64_t min, int64_t max,
             T (TcpSysctls::*field)[N]) {
  return Entry{name, help, N, min, max,
               [field](const TcpSysctls& s) {
                 Values v;
                 for (size_t i = 0; i < N; ++i) v.push_back(static_cast<int64_t>((s.*field)[i]));
                 return v;
               },
               [field](TcpSysctls& s, const Values& v) {
                 for (size_t i = 0; i < N; ++i) (s.*field)[i] = static_cast<T>(v[i]);
               }};
}

absl::Status Ascending(const Values& v, const char* what) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] < v[i - 1])
      return absl::InvalidArgumentError(absl::StrCat("values must not decrease (", what, ")"));
  }
  return absl::OkStatus();
}

const std::vector<Entry>& Table() {
  static const std::vector<Entry>* table = [] {
    auto* t = new std::vector<Entry>{
        Scalar("net.ipv4.tcp_fin_timeout",
               "seconds an orphan stays in FIN_WAIT2 (tcp_fin_time), 1..2147483647",
               1, kIntMax, &TcpSysctls::tcp_fin_timeout),
        Scalar("net.ipv4.tcp_max_orphans",
               "orphaned sockets before close and RTO reset them (tcp_check_oom), 0..2147483647",
               0, kIntMax, &TcpSysctls::tcp_max_orphans),
        Scalar("net.ipv4.tcp_max_tw_buckets",
               "TIME_WAIT mini-sockets before a closing connection just goes "
               "(TCPTimeWaitOverflow), 0..2147483647",
               0, kIntMax, &TcpSysctls::tcp_max_tw_buckets),
        Scalar("net.ipv4.tcp_orphan_retries",
               "retransmissions of an orphan before it is dropped (0 means 8 while alive), 0..255",
               0, 255, &TcpSysctls::tcp_orphan_retries),
        Scalar("net.ipv4.tcp_tw_reuse",
               "reuse a TIME_WAIT 4-tuple for connect(): 0 off, 1 on, 2 loopback only",
               0, 2, &TcpSysctls::tcp_tw_reuse),
        Scalar("net.ipv4.tcp_tw_reuse_delay",
               "ms a TIME_WAIT entry must age before tcp_tw_reuse may take it, 1..2147483647",
               1, kIntMax, &TcpSysctls::tcp_tw_reuse_delay),
        Scalar("net.ipv4.tcp_rfc1337",
               "1: an RST does not kill a TIME_WAIT socket (RFC 1337), 0..1",
               0, 1, &TcpSysctls::tcp_rfc1337),
        Scalar("net.ipv4.tcp_syncookies",
               "0 off, 1 when the SYN queue overflows, 2 always", 0, 2,
               &TcpSysctls::tcp_syncookies),
        Scalar("net.ipv4.tcp_timestamps", "RFC 7323 timestamps, 0..1", 0, 1,
               &TcpSysctls::tcp_timestamps),
        Scalar("net.ipv4.tcp_window_scaling", "RFC 7323 window scaling, 0..1", 0, 1,
               &TcpSysctls::tcp_window_scaling),
        Scalar("net.ipv4.tcp_sack", "selective acknowledgements, 0..1", 0, 1,
               &TcpSysctls::tcp_sack),
        Scalar("net.ipv4.tcp_max_syn_backlog", "half-open requests per listener, 1..2147483647",
               1, kIntMax, &TcpSysctls::tcp_max_syn_backlog),
        Scalar("net.core.somaxconn", "cap on listen() backlog, 0..2147483647", 0, kIntMax,
               &TcpSysctls::somaxconn),
        Scalar("net.ipv4.tcp_retries1", "retransmissions before reporting trouble, 0..255", 0,
               255, &TcpSysctls::tcp_retries1),
        Scalar("net.ipv4.tcp_retries2",
               "retransmissions before an established connection gives up, 0..255", 0, 255,
               &TcpSysctls::tcp_retries2),
        Scalar("net.ipv4.tcp_syn_retries", "SYN retransmissions for connect(), 1..127", 1, 127,
               &TcpSysctls::tcp_syn_retries),
        Scalar("net.ipv4.tcp_synack_retries", "SYN-ACK retransmissions, 0..255", 0, 255,
               &TcpSysctls::tcp_synack_retries),
        Scalar("net.ipv4.tcp_keepalive_time", "idle seconds before keepalive probes, 1..32767",
               1, 32767, &TcpSysctls::tcp_keepalive_time),
        Scalar("net.ipv4.tcp_keepalive_intvl", "seconds between keepalive probes, 1..32767", 1,
               32767, &TcpSysctls::tcp_keepalive_intvl),
        Scalar("net.ipv4.tcp_keepalive_probes", "unanswered probes before reset, 1..127", 1, 127,
               &TcpSysctls::tcp_keepalive_probes),
        Scalar("net.ipv4.tcp_invalid_ratelimit",
               "ms between ACKs sent for out-of-window segments, 0..2147483647", 0, kIntMax,
               &TcpSysctls::tcp_invalid_ratelimit),
        Scalar("net.core.rmem_max", "cap on SO_RCVBUF in bytes, 1..2147483647", 1, kIntMax,
               &TcpSysctls::rmem_max),
        Scalar("net.core.wmem_max", "cap on SO_SNDBUF in bytes, 1..2147483647", 1, kIntMax,
               &TcpSysctls::wmem_max),
    };
    Entry mem = Vector("net.ipv4.tcp_mem",
                       "socket memory in 4 KiB pages: low, pressure, high (non-decreasing)", 1,
                       std::numeric_limits<int64_t>::max() / 4096, &TcpSysctls::tcp_mem);
    mem.check = [](const Values& v) { return Ascending(v, "low <= pressure <= high"); };
    t->push_back(std::move(mem));
    Entry rmem = Vector("net.ipv4.tcp_rmem", "receive buffer bytes: min, default, max", 1,
                        kIntMax, &TcpSysctls::tcp_rmem);
    rmem.check = [](const Values& v) { return Ascending(v, "min <= default <= max"); };
    t->push_back(std::move(rmem));
    Entry wmem = Vector("net.ipv4.tcp_wmem", "send buffer bytes: min, default, max", 1, kIntMax,
                        &TcpSysctls::tcp_wmem);
    wmem.check = [](const Values& v) { return Ascending(v, "min <= default <= max"); };
    t->push_back(std::move(wmem));
    Entry ports = Vector("net.ipv4.ip_local_port_range", "ephemeral ports: low high", 1, 65535,
                         &TcpSysctls::ip_local_port_range);
    ports.check = [](const Values& v) { return Ascending(v, "low <= high"); };
    t->push_back(std::move(ports));
    return t;
  }();
  return *table;
}

constexpr char kCongestion[] = "net.ipv4.tcp_congestion_control";

const Entry* Find(absl::string_view name) {
  for (const Entry& e : Table())
    if (name == e.name) return &e;
  return nullptr;
}

}  // namespace

std::vector<SysctlDesc> SysctlList() {
  std::vector<SysctlDesc> out;
  for (const Entry& e : Table()) out.push_back({e.name, e.help});
  out.push_back({kCongestion, "congestion control for new connections: cubic or reno"});
  return out;
}

absl::StatusOr<std::string> SysctlGet(const TcpSysctls& s, absl::string_view name) {
  if (name == kCongestion) return s.tcp_congestion_control;
  const Entry* e = Find(name);
  if (e == nullptr) return absl::NotFoundError(absl::StrCat("unknown sysctl '", name, "'"));
  return absl::StrJoin(e->get(s), "\t");
}

absl::Status SysctlSet(TcpSysctls* s, absl::string_view name, absl::string_view value) {
  if (name == kCongestion) {
    if (FindCongestionOps(std::string(value)) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": unknown congestion control '", value, "' (cubic, reno)"));
    }
    s->tcp_congestion_control = std::string(value);
    return absl::OkStatus();
  }
  const Entry* e = Find(name);
  if (e == nullptr) return absl::NotFoundError(absl::StrCat("unknown sysctl '", name, "'"));
  Values v;
  for (absl::string_view w : absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
    int64_t x;
    if (!absl::SimpleAtoi(w, &x)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": '", w, "' is not an integer"));
    }
    if (x < e->min || x > e->max) {
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: %d is out of range %d..%d", e->name, x, e->min, e->max));
    }
    v.push_back(x);
  }
  if (v.size() != e->count) {
    return absl::InvalidArgumentError(absl::StrFormat("%s takes %d value%s, got %d", e->name,
                                                      e->count, e->count == 1 ? "" : "s",
                                                      v.size()));
  }
  if (e->check) {
    if (absl::Status st = e->check(v); !st.ok())
      return absl::InvalidArgumentError(absl::StrCat(e->name, ": ", st.message()));
  }
  e->set(*s, v);
  return absl::OkStatus();
}

}  // namespace dpx::tcp
