// Reno window policy (Linux tcp_cong.c tcp_reno_*): slow start, then one
// packet per RTT; ssthresh = max(cwnd / 2, 2) on loss. With the recovery in
// TCP input this is NewReno (RFC 6582), registered as "reno" and "newreno".
#include "tcp/congestion.h"

namespace dpx::tcp {

// tcp_reno_cong_avoid().
void TcpRenoCongAvoid(CcState& s, const CcEnv& /*env*/, uint32_t /*ack*/, uint32_t acked) {
  if (!TcpIsCwndLimited(s)) return;
  if (TcpInSlowStart(s)) {
    acked = TcpSlowStart(s, acked);
    if (!acked) return;
  }
  TcpCongAvoidAi(s, s.snd_cwnd, acked);  // in "dangerous" area, increase slowly
}

// tcp_reno_ssthresh().
uint32_t TcpRenoSsthresh(CcState& s) {
  const uint32_t half = s.snd_cwnd >> 1;
  return half > 2 ? half : 2;
}

// tcp_reno_undo_cwnd().
uint32_t TcpRenoUndoCwnd(CcState& s) {
  return s.snd_cwnd > s.prior_cwnd ? s.snd_cwnd : s.prior_cwnd;
}

namespace {
void RenoInit(CcState& /*s*/, const CcEnv& /*env*/) {}
}  // namespace

const CongestionOps kTcpRenoOps = {
    .name = "reno",
    .init = RenoInit,
    .ssthresh = TcpRenoSsthresh,
    .cong_avoid = TcpRenoCongAvoid,
    .set_state = nullptr,
    .cwnd_event = nullptr,
    .pkts_acked = nullptr,
    .undo_cwnd = TcpRenoUndoCwnd,
};

}  // namespace dpx::tcp
