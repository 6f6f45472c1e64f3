// Congestion control modules, modelled on Linux struct tcp_congestion_ops.
// A module is a table of plain functions over CcState: the few tcp_sock
// fields congestion control owns (snd_cwnd, snd_ssthresh, snd_cwnd_cnt, in
// packets as in Linux) plus a fixed private area (inet_csk_ca()). No
// allocation and no virtual objects per connection: a TCB embeds one
// CcState and points at a shared, constant ops table.
//
// Loss recovery itself (fast retransmit, NewReno partial ACKs, SACK, the
// CA state machine, PRR) belongs to TCP input, as in Linux tcp_input.c; the
// module only answers ssthresh() on loss and grows the window in
// cong_avoid().
//
// Modules: "cubic" (the default, tcp_cubic.c) and "reno" (tcp_cong.c,
// also registered as "newreno": Linux's reno module is the window policy of
// NewReno; the recovery part is in TCP input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>

#include "tcp/constants.h"

namespace dpx::tcp {

// Linux enum tcp_ca_state (TCP_CA_*).
enum class CaState : uint8_t { kOpen = 0, kDisorder = 1, kCwr = 2, kRecovery = 3, kLoss = 4 };

// Linux enum tcp_ca_event (CA_EVENT_*).
enum class CaEvent : uint8_t {
  kTxStart,       // first transmit when no packets in flight
  kCwndRestart,   // congestion window restart after idle
  kCompleteCwr,   // end of congestion recovery
  kLoss,          // loss timeout
  kEcnNoCe,       // ECT set, but not CE marked
  kEcnIsCe,       // received CE marked IP packet
};

// Private area per connection for the module (Linux ICSK_CA_PRIV_SIZE is
// 104 bytes; dpx's modules need less, and the TCB has a size budget).
inline constexpr size_t kCaPrivSize = 64;

struct CongestionOps;

struct CcState {
  uint32_t snd_cwnd = TCP_INIT_CWND;
  uint32_t snd_ssthresh = TCP_INFINITE_SSTHRESH;
  uint32_t snd_cwnd_cnt = 0;        // linear increase counter
  uint32_t snd_cwnd_clamp = ~0u;    // never grow beyond this
  uint32_t prior_cwnd = 0;          // cwnd before recovery, for undo
  uint32_t max_packets_out = 0;     // in the last window (tcp_is_cwnd_limited)
  CaState ca_state = CaState::kOpen;
  bool is_cwnd_limited = false;     // output was limited by cwnd, not the app
  const CongestionOps* ops = nullptr;
  alignas(8) unsigned char priv[kCaPrivSize];

  // The module's private struct (inet_csk_ca()).
  template <typename T>
  T* Priv() {
    static_assert(sizeof(T) <= kCaPrivSize && alignof(T) <= 8, "grow kCaPrivSize");
    return std::launder(reinterpret_cast<T*>(priv));
  }
};

// What the module may read of the connection at the time of a call.
struct CcEnv {
  uint64_t now_us = 0;       // stack clock (Linux tcp_clock_us / jiffies)
  uint32_t snd_nxt = 0;      // next sequence to send
  uint64_t lsndtime_us = 0;  // last time data was sent (tp->lsndtime)
};

// Linux struct ack_sample.
struct AckSample {
  uint32_t pkts_acked = 0;
  int32_t rtt_us = -1;  // -1: no valid sample (Karn)
  uint32_t in_flight = 0;
};

struct CongestionOps {
  const char* name;
  // Required. Set up priv (placement-new the private struct).
  void (*init)(CcState& s, const CcEnv& env);
  // Required. New slow-start threshold on loss (before cwnd is cut).
  uint32_t (*ssthresh)(CcState& s);
  // Required. Grow cwnd for an ACK of `acked` packets; `ack` is its ack seq.
  void (*cong_avoid)(CcState& s, const CcEnv& env, uint32_t ack, uint32_t acked);
  // Optional. Before ca_state changes to `new_state`.
  void (*set_state)(CcState& s, const CcEnv& env, CaState new_state);
  // Optional.
  void (*cwnd_event)(CcState& s, const CcEnv& env, CaEvent ev);
  // Optional. Per ACK that acknowledged data, with its RTT sample.
  void (*pkts_acked)(CcState& s, const CcEnv& env, const AckSample& sample);
  // Required. cwnd to restore when recovery was spurious.
  uint32_t (*undo_cwnd)(CcState& s);
};

// ---- Linux tcp_cong.c / include/net/tcp.h helpers ----

inline bool TcpInSlowStart(const CcState& s) { return s.snd_cwnd < s.snd_ssthresh; }

// tcp_is_cwnd_limited(): in slow start, grow while cwnd < 2 * the most
// packets that were out in the last window.
inline bool TcpIsCwndLimited(const CcState& s) {
  if (s.is_cwnd_limited) return true;
  if (TcpInSlowStart(s)) return s.snd_cwnd < 2 * s.max_packets_out;
  return false;
}

// tcp_slow_start(): cwnd += acked, up to ssthresh; returns the ACKed
// packets left over for congestion avoidance.
inline uint32_t TcpSlowStart(CcState& s, uint32_t acked) {
  uint64_t cwnd = uint64_t{s.snd_cwnd} + acked;
  if (cwnd > s.snd_ssthresh) cwnd = s.snd_ssthresh;
  acked -= static_cast<uint32_t>(cwnd - s.snd_cwnd);
  s.snd_cwnd = cwnd < s.snd_cwnd_clamp ? static_cast<uint32_t>(cwnd) : s.snd_cwnd_clamp;
  return acked;
}

// tcp_cong_avoid_ai(): cwnd += acked / w, with the remainder kept in
// snd_cwnd_cnt (w = cwnd gives one packet per RTT).
inline void TcpCongAvoidAi(CcState& s, uint32_t w, uint32_t acked) {
  if (w == 0) w = 1;
  if (s.snd_cwnd_cnt >= w) {  // credits accumulated at a higher w
    s.snd_cwnd_cnt = 0;
    s.snd_cwnd++;
  }
  s.snd_cwnd_cnt += acked;
  if (s.snd_cwnd_cnt >= w) {
    const uint32_t delta = s.snd_cwnd_cnt / w;
    s.snd_cwnd_cnt -= delta * w;
    s.snd_cwnd += delta;
  }
  if (s.snd_cwnd > s.snd_cwnd_clamp) s.snd_cwnd = s.snd_cwnd_clamp;
}

// tcp_reno_cong_avoid / tcp_reno_ssthresh / tcp_reno_undo_cwnd, shared
// by modules as in Linux.
void TcpRenoCongAvoid(CcState& s, const CcEnv& env, uint32_t ack, uint32_t acked);
uint32_t TcpRenoSsthresh(CcState& s);
uint32_t TcpRenoUndoCwnd(CcState& s);

// ---- The modules and the registry ----

extern const CongestionOps kTcpRenoOps;   // "reno"
extern const CongestionOps kTcpCubicOps;  // "cubic"

// By name as net.ipv4.tcp_congestion_control / TCP_CONGESTION take it:
// "cubic", "reno", "newreno". nullptr when unknown.
const CongestionOps* FindCongestionOps(std::string_view name);
// "cubic", like Linux's default.
const CongestionOps& DefaultCongestionOps();
// net.ipv4.tcp_available_congestion_control: "reno cubic" ("newreno" is
// accepted by FindCongestionOps as an alias of reno).
std::string_view AvailableCongestionControl();

// ---- What the TCB calls (Linux tcp_init_congestion_control,
// tcp_set_ca_state, tcp_ca_event) ----

inline void CcInit(CcState& s, const CongestionOps& ops, const CcEnv& env) {
  s.ops = &ops;
  s.snd_cwnd_cnt = 0;
  ops.init(s, env);
}
inline void CcSetState(CcState& s, const CcEnv& env, CaState st) {
  if (s.ops->set_state) s.ops->set_state(s, env, st);
  s.ca_state = st;
}
inline void CcEvent(CcState& s, const CcEnv& env, CaEvent ev) {
  if (s.ops->cwnd_event) s.ops->cwnd_event(s, env, ev);
}
inline void CcPktsAcked(CcState& s, const CcEnv& env, const AckSample& sample) {
  if (s.ops->pkts_acked) s.ops->pkts_acked(s, env, sample);
}
inline void CcCongAvoid(CcState& s, const CcEnv& env, uint32_t ack, uint32_t acked) {
  s.ops->cong_avoid(s, env, ack, acked);
}
inline uint32_t CcSsthresh(CcState& s) { return s.ops->ssthresh(s); }
inline uint32_t CcUndoCwnd(CcState& s) { return s.ops->undo_cwnd(s); }

}  // namespace dpx::tcp
