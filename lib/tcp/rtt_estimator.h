// Round-trip time estimation and the retransmission timeout: RFC 6298
// computed the way Linux does it (tcp_rtt_estimator(), tcp_set_rto(),
// tcp_bound_rto()), in microseconds, plus exponential backoff
// (icsk_backoff, inet_csk_rto_backoff()) and the tcp_retries2 time model
// (tcp_model_timeout()).
//
// Where Linux departs from RFC 6298:
//  - TCP_RTO_MIN is not a floor on the RTO but on RTTVAR: the first sample
//    R gives SRTT = R, RTTVAR = R/2 and RTO = R + max(2R, 200 ms), so the
//    RTO is at least SRTT + 200 ms (a 10 ms path gets 210 ms, not 200 ms).
//  - RTTVAR does not follow every sample: mdev (the RFC's RTTVAR, with the
//    RFC's 1/4 gain) is tracked per sample, but the RTTVAR used for the RTO
//    takes the largest mdev seen in the last flight and decays towards it
//    only once per RTT (when snd_una passes rtt_seq). A falling RTT moves
//    mdev with gain 1/32 instead of 1/4 (Eifel-like).
//
// Karn's rule is the caller's: pass only samples from segments that were
// never retransmitted, or taken from a timestamp echo (TSecr), as Linux
// tcp_ack_update_rtt() does. A sample resets the backoff.
#pragma once

#include <cstdint>

#include "tcp/constants.h"

namespace dpx::tcp {

class RttEstimator {
 public:
  // Feeds one RTT sample (> 0 us; 0 is taken as 1 us). `snd_una` and
  // `snd_nxt` are the connection's after processing the ACK: they mark the
  // once-per-RTT RTTVAR update. Recomputes the RTO and clears the backoff
  // (tcp_ack_update_rtt()).
  void Sample(uint32_t rtt_us, uint32_t snd_una, uint32_t snd_nxt,
              uint32_t rto_min_us = TCP_RTO_MIN_US);

  bool has_sample() const { return srtt8_us_ != 0; }
  // SRTT, as ss prints it (rtt:<srtt>/<rttvar>); Linux srtt_us >> 3.
  uint32_t srtt_us() const { return srtt8_us_ >> 3; }
  // Linux tp->srtt_us: SRTT scaled by 8.
  uint32_t srtt8_us() const { return srtt8_us_; }
  // Mean deviation as ss prints it (Linux mdev_us >> 2, tcpi_rttvar).
  uint32_t rttvar_us() const { return mdev_us_ >> 2; }
  // The 4 * RTTVAR term that goes into the RTO (Linux rttvar_us).
  uint32_t rto_rttvar_us() const { return rttvar_us_; }

  // Base RTO (icsk_rto): TCP_TIMEOUT_INIT before the first sample.
  uint32_t rto_us() const { return rto_us_; }
  void set_rto_us(uint32_t rto) { rto_us_ = rto > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : rto; }
  // Number of consecutive timeouts (icsk_backoff).
  uint8_t backoff() const { return backoff_; }

  // Retransmission timeout fired (tcp_retransmit_timer()): count it and
  // double the RTO, capped at TCP_RTO_MAX.
  void Backoff();
  // Counts a timeout without doubling the base RTO: the zero-window probe
  // timer backs off this way (tcp_send_probe0(): icsk_backoff++).
  void IncBackoff() {
    if (backoff_ < 255) ++backoff_;
  }
  // Clears the backoff without a sample (e.g. the peer opened its window,
  // tcp_ack_probe()).
  void ResetBackoff() { backoff_ = 0; }
  // For timers that back off by count rather than by doubling rto_us (the
  // probe timer, tcp_probe0_when()): min(rto << backoff, max), like
  // inet_csk_rto_backoff().
  uint32_t BackedOffRtoUs(uint32_t max_us = TCP_RTO_MAX_US) const;
  // The RTO computed from the current estimate (__tcp_set_rto()), bounded
  // by TCP_RTO_MAX; what a thin stream's linear timeout re-arms with.
  uint32_t ComputedRtoUs() const;

 private:
  uint32_t srtt8_us_ = 0;     // smoothed RTT << 3 (Linux srtt_us)
  uint32_t mdev_us_ = 0;      // mean deviation << 2 (Linux mdev_us)
  uint32_t mdev_max_us_ = 0;  // largest mdev in the current flight
  uint32_t rttvar_us_ = 0;    // RTTVAR << 2 used for the RTO
  uint32_t rtt_seq_ = 0;      // snd_nxt when RTTVAR was last updated
  uint32_t rto_us_ = TCP_TIMEOUT_INIT_US;
  uint8_t backoff_ = 0;
};

// Linux tcp_model_timeout(): how long `boundary` retransmissions take when
// the RTO starts at `rto_base_us` and doubles up to TCP_RTO_MAX. With
// TCP_RTO_MIN and tcp_retries2 = 15 this is 924.6 s, the time after which
// an unanswered connection is dropped (retransmits_timed_out()).
uint64_t TcpModelTimeoutUs(unsigned boundary, uint32_t rto_base_us = TCP_RTO_MIN_US);

}  // namespace dpx::tcp
