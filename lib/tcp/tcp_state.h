// TCP states with Linux's numbers and names (include/net/tcp_states.h),
// the names `ss` prints for them, and the close transition table
// new_state[] of net/ipv4/tcp.c (tcp_close_state()) as data.
#pragma once

#include <cstdint>
#include <string_view>

namespace dpx::tcp {

// Values are Linux's: they show up in counters, telemetry and `ss -o`
// style output, and index tables like new_state[].
enum TcpState : uint8_t {
  TCP_ESTABLISHED = 1,
  TCP_SYN_SENT = 2,
  TCP_SYN_RECV = 3,
  TCP_FIN_WAIT1 = 4,
  TCP_FIN_WAIT2 = 5,
  TCP_TIME_WAIT = 6,
  TCP_CLOSE = 7,
  TCP_CLOSE_WAIT = 8,
  TCP_LAST_ACK = 9,
  TCP_LISTEN = 10,
  TCP_CLOSING = 11,      // now a valid state
  TCP_NEW_SYN_RECV = 12, // a request socket (SYN queue entry)
  TCP_MAX_STATES = 13,
};

// Bit masks for state sets: (1 << state) & (TCPF_A | TCPF_B), as Linux
// writes its state tests.
enum TcpStateFlag : uint32_t {
  TCPF_ESTABLISHED = 1u << TCP_ESTABLISHED,
  TCPF_SYN_SENT = 1u << TCP_SYN_SENT,
  TCPF_SYN_RECV = 1u << TCP_SYN_RECV,
  TCPF_FIN_WAIT1 = 1u << TCP_FIN_WAIT1,
  TCPF_FIN_WAIT2 = 1u << TCP_FIN_WAIT2,
  TCPF_TIME_WAIT = 1u << TCP_TIME_WAIT,
  TCPF_CLOSE = 1u << TCP_CLOSE,
  TCPF_CLOSE_WAIT = 1u << TCP_CLOSE_WAIT,
  TCPF_LAST_ACK = 1u << TCP_LAST_ACK,
  TCPF_LISTEN = 1u << TCP_LISTEN,
  TCPF_CLOSING = 1u << TCP_CLOSING,
  TCPF_NEW_SYN_RECV = 1u << TCP_NEW_SYN_RECV,
};

constexpr uint32_t TcpStateBit(TcpState s) { return 1u << s; }
constexpr bool TcpStateIn(TcpState s, uint32_t mask) { return (TcpStateBit(s) & mask) != 0; }

// Linux's own spelling ("TCP_ESTABLISHED"), as in tracepoints.
constexpr std::string_view TcpStateName(TcpState s) {
  constexpr std::string_view kNames[] = {
      "UNKNOWN",        "TCP_ESTABLISHED", "TCP_SYN_SENT",  "TCP_SYN_RECV",
      "TCP_FIN_WAIT1",  "TCP_FIN_WAIT2",   "TCP_TIME_WAIT", "TCP_CLOSE",
      "TCP_CLOSE_WAIT", "TCP_LAST_ACK",    "TCP_LISTEN",    "TCP_CLOSING",
      "TCP_NEW_SYN_RECV"};
  return s < TCP_MAX_STATES ? kNames[s] : kNames[0];
}

// The State column of `ss` (iproute2 sstate_name[]). CLOSE prints as
// UNCONN; a request socket prints as SYN-RECV, because inet_diag reports
// NEW_SYN_RECV entries as TCP_SYN_RECV.
constexpr std::string_view SsStateName(TcpState s) {
  constexpr std::string_view kNames[] = {
      "UNKNOWN",    "ESTAB",     "SYN-SENT",   "SYN-RECV", "FIN-WAIT-1",
      "FIN-WAIT-2", "TIME-WAIT", "UNCONN",     "CLOSE-WAIT", "LAST-ACK",
      "LISTEN",     "CLOSING",   "SYN-RECV"};
  return s < TCP_MAX_STATES ? kNames[s] : kNames[0];
}

// The names `ss state <name>` filters take (iproute2 sstate_namel[]).
constexpr std::string_view SsStateFilterName(TcpState s) {
  constexpr std::string_view kNames[] = {
      "UNKNOWN",    "established", "syn-sent",    "syn-recv",   "fin-wait-1",
      "fin-wait-2", "time-wait",   "unconnected", "close-wait", "last-ack",
      "listening",  "closing",     "syn-recv"};
  return s < TCP_MAX_STATES ? kNames[s] : kNames[0];
}

// A state from any of the spellings above ("ESTAB", "established",
// "TCP_ESTABLISHED"). False when none matches. "SYN-RECV"/"syn-recv"
// give TCP_SYN_RECV.
constexpr bool TcpStateFromName(std::string_view name, TcpState* out) {
  for (uint8_t i = TCP_ESTABLISHED; i < TCP_MAX_STATES; ++i) {
    const auto s = static_cast<TcpState>(i);
    if (name == TcpStateName(s) || name == SsStateName(s) || name == SsStateFilterName(s)) {
      *out = s;
      return true;
    }
  }
  return false;
}

// ---- close(): net/ipv4/tcp.c new_state[] / tcp_close_state() ----

inline constexpr uint8_t TCP_STATE_MASK = 0xF;
// "Send a FIN" rides in the state byte's high bit (1 << TCP_CLOSE).
inline constexpr uint8_t TCP_ACTION_FIN = 1u << TCP_CLOSE;

// Indexed by the current state: the state close() moves to, or-ed with
// TCP_ACTION_FIN when a FIN must be sent.
inline constexpr uint8_t kTcpCloseNewState[16] = {
    /* 0 (invalid)      */ TCP_CLOSE,
    /* ESTABLISHED      */ TCP_FIN_WAIT1 | TCP_ACTION_FIN,
    /* SYN_SENT         */ TCP_CLOSE,
    /* SYN_RECV         */ TCP_FIN_WAIT1 | TCP_ACTION_FIN,
    /* FIN_WAIT1        */ TCP_FIN_WAIT1,
    /* FIN_WAIT2        */ TCP_FIN_WAIT2,
    /* TIME_WAIT        */ TCP_CLOSE,
    /* CLOSE            */ TCP_CLOSE,
    /* CLOSE_WAIT       */ TCP_LAST_ACK | TCP_ACTION_FIN,
    /* LAST_ACK         */ TCP_LAST_ACK,
    /* LISTEN           */ TCP_CLOSE,
    /* CLOSING          */ TCP_CLOSING,
    /* NEW_SYN_RECV     */ TCP_CLOSE,  // should not happen
    /* 13..15 (unused)  */ 0, 0, 0,
};

struct CloseTransition {
  TcpState next;
  bool send_fin;
};

// tcp_close_state() without the side effect: where close() (or
// shutdown(SHUT_WR)) takes `s`, and whether it sends a FIN. The caller
// applies it with its tcp_set_state().
constexpr CloseTransition TcpCloseTransition(TcpState s) {
  const uint8_t next = kTcpCloseNewState[s & TCP_STATE_MASK];
  return CloseTransition{static_cast<TcpState>(next & TCP_STATE_MASK),
                         (next & TCP_ACTION_FIN) != 0};
}

}  // namespace dpx::tcp
