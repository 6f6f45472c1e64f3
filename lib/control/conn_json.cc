#include "control/conn_json.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "net/ipv4_addr.h"

namespace dpx::control {

namespace {

constexpr tcp::ConnTimer kTimers[] = {tcp::ConnTimer::kOff, tcp::ConnTimer::kOn,
                                      tcp::ConnTimer::kKeepalive, tcp::ConnTimer::kTimeWait,
                                      tcp::ConnTimer::kPersist};

template <typename T>
bool GetNum(const Json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return false;
  *out = it->get<T>();
  return true;
}

}  // namespace

bool ParseAddrPort(const std::string& text, uint32_t* addr_be, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string a = text.substr(0, colon);
  const std::string p = text.substr(colon + 1);
  if (a == "*" || a.empty()) {
    *addr_be = 0;
  } else if (!ParseIpv4(a, addr_be)) {
    return false;
  }
  if (p == "*") {
    *port = 0;
    return true;
  }
  uint32_t v;
  if (!absl::SimpleAtoi(p, &v) || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

Json ConnRowToJson(const tcp::ConnRow& r, const std::string& comm) {
  Json j = Json::object();
  j["state"] = std::string(tcp::ConnRowStateName(r));
  j["tcp_state"] = static_cast<int>(r.state);
  j["recv_q"] = r.recv_q;
  j["send_q"] = r.send_q;
  j["local"] = tcp::FormatAddrPort(r.laddr, r.lport);
  j["peer"] = tcp::FormatAddrPort(r.raddr, r.rport);
  j["timer"] = std::string(tcp::ConnTimerName(r.timer));
  j["timer_ms"] = r.timer_ms;
  j["retrans"] = r.retrans;
  if (r.pid > 0) {
    j["pid"] = r.pid;
    j["fd"] = r.fd;
    if (!comm.empty()) j["comm"] = comm;
  }
  j["core"] = r.core;
  j["orphan"] = r.orphan;
  j["timewait_sock"] = r.timewait_sock;
  return j;
}

absl::StatusOr<tcp::ConnRow> ConnRowFromJson(const Json& j, std::string* comm) {
  tcp::ConnRow r;
  int state = 0;
  if (!j.is_object() || !GetNum(j, "tcp_state", &state) || state <= 0 ||
      state >= tcp::TCP_MAX_STATES) {
    return absl::InvalidArgumentError("connection row without a valid tcp_state");
  }
  r.state = static_cast<tcp::TcpState>(state);
  GetNum(j, "recv_q", &r.recv_q);
  GetNum(j, "send_q", &r.send_q);
  GetNum(j, "timer_ms", &r.timer_ms);
  GetNum(j, "retrans", &r.retrans);
  GetNum(j, "pid", &r.pid);
  GetNum(j, "fd", &r.fd);
  GetNum(j, "core", &r.core);
  if (auto it = j.find("orphan"); it != j.end() && it->is_boolean()) r.orphan = it->get<bool>();
  if (auto it = j.find("timewait_sock"); it != j.end() && it->is_boolean())
    r.timewait_sock = it->get<bool>();
  for (const char* key : {"local", "peer"}) {
    auto it = j.find(key);
    uint32_t a = 0;
    uint16_t p = 0;
    if (it == j.end() || !it->is_string() || !ParseAddrPort(it->get<std::string>(), &a, &p)) {
      return absl::InvalidArgumentError(absl::StrCat("connection row: bad '", key, "'"));
    }
    if (key[0] == 'l') {
      r.laddr = a;
      r.lport = p;
    } else {
      r.raddr = a;
      r.rport = p;
    }
  }
  if (auto it = j.find("timer"); it != j.end() && it->is_string()) {
    for (tcp::ConnTimer t : kTimers)
      if (tcp::ConnTimerName(t) == it->get<std::string>()) r.timer = t;
  }
  if (comm != nullptr) {
    comm->clear();
    if (auto it = j.find("comm"); it != j.end() && it->is_string()) *comm = it->get<std::string>();
  }
  return r;
}

Json ConnSummaryToJson(const tcp::ConnSummary& s) {
  Json j = Json::object();
  j["total"] = s.total();
  j["alloc"] = s.alloc;
  j["hashed"] = s.hashed;
  j["estab"] = s.estab;
  j["closed"] = s.closed();
  j["orphaned"] = s.orphaned;
  j["timewait"] = s.timewait;
  j["synrecv"] = s.synrecv;
  j["listen"] = s.listen;
  Json by = Json::object();
  for (int st = 1; st < tcp::TCP_MAX_STATES; ++st) {
    if (st == tcp::TCP_NEW_SYN_RECV) continue;
    by[std::string(tcp::SsStateName(static_cast<tcp::TcpState>(st)))] = s.by_state[st];
  }
  j["by_state"] = by;
  return j;
}

absl::StatusOr<tcp::ConnSummary> ConnSummaryFromJson(const Json& j) {
  tcp::ConnSummary s;
  if (!j.is_object() || !GetNum(j, "alloc", &s.alloc) || !GetNum(j, "hashed", &s.hashed)) {
    return absl::InvalidArgumentError("malformed connection summary");
  }
  GetNum(j, "estab", &s.estab);
  GetNum(j, "orphaned", &s.orphaned);
  GetNum(j, "timewait", &s.timewait);
  GetNum(j, "synrecv", &s.synrecv);
  GetNum(j, "listen", &s.listen);
  if (auto it = j.find("by_state"); it != j.end() && it->is_object()) {
    for (int st = 1; st < tcp::TCP_MAX_STATES; ++st) {
      if (st == tcp::TCP_NEW_SYN_RECV) continue;
      GetNum(*it, std::string(tcp::SsStateName(static_cast<tcp::TcpState>(st))).c_str(),
             &s.by_state[st]);
    }
  }
  return s;
}

}  // namespace dpx::control
