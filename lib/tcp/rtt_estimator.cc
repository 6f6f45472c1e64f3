#include "tcp/rtt_estimator.h"

#include <bit>

#include "tcp/seq.h"

namespace dpx::tcp {

// Linux tcp_rtt_estimator() followed by tcp_set_rto() and the backoff reset
// of tcp_ack_update_rtt().
void RttEstimator::Sample(uint32_t rtt_us, uint32_t snd_una, uint32_t snd_nxt,
                          uint32_t rto_min_us) {
  int64_t m = rtt_us == 0 ? 1 : rtt_us;
  uint32_t srtt = srtt8_us_;
  if (srtt != 0) {
    m -= srtt >> 3;  // m is now the error in the estimate
    srtt = static_cast<uint32_t>(static_cast<int64_t>(srtt) + m);  // srtt = 7/8 srtt + 1/8 new
    if (m < 0) {
      m = -m;
      m -= mdev_us_ >> 2;
      // RTT fell: a finer gain (1/32) so the RTO neither grows nor drops
      // fast (Linux's take on Eifel).
      if (m > 0) m >>= 3;
    } else {
      m -= mdev_us_ >> 2;
    }
    mdev_us_ = static_cast<uint32_t>(static_cast<int64_t>(mdev_us_) + m);  // 3/4 mdev + 1/4 new
    if (mdev_us_ > mdev_max_us_) {
      mdev_max_us_ = mdev_us_;
      if (mdev_max_us_ > rttvar_us_) rttvar_us_ = mdev_max_us_;
    }
    if (SeqAfter(snd_una, rtt_seq_)) {  // once per flight
      if (mdev_max_us_ < rttvar_us_) rttvar_us_ -= (rttvar_us_ - mdev_max_us_) >> 2;
      rtt_seq_ = snd_nxt;
      mdev_max_us_ = rto_min_us;
    }
  } else {
    // First sample: SRTT = R, mdev = 2R (RTTVAR R/2, scaled by 4), and
    // RTTVAR no lower than rto_min.
    srtt = static_cast<uint32_t>(m << 3);
    mdev_us_ = static_cast<uint32_t>(m << 1);
    rttvar_us_ = mdev_us_ > rto_min_us ? mdev_us_ : rto_min_us;
    mdev_max_us_ = rttvar_us_;
    rtt_seq_ = snd_nxt;
  }
  srtt8_us_ = srtt == 0 ? 1 : srtt;
  rto_us_ = ComputedRtoUs();
  backoff_ = 0;
}

// __tcp_set_rto() + tcp_bound_rto().
uint32_t RttEstimator::ComputedRtoUs() const {
  const uint64_t rto = uint64_t{srtt8_us_ >> 3} + rttvar_us_;
  return rto > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : static_cast<uint32_t>(rto);
}

void RttEstimator::Backoff() {
  if (backoff_ < 255) ++backoff_;
  const uint64_t rto = uint64_t{rto_us_} << 1;
  rto_us_ = rto > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : static_cast<uint32_t>(rto);
}

uint32_t RttEstimator::BackedOffRtoUs(uint32_t max_us) const {
  if (backoff_ >= 32) return max_us;
  const uint64_t when = uint64_t{rto_us_} << backoff_;
  return when > max_us ? max_us : static_cast<uint32_t>(when);
}

uint64_t TcpModelTimeoutUs(unsigned boundary, uint32_t rto_base_us) {
  if (rto_base_us == 0) rto_base_us = 1;
  // ilog2(TCP_RTO_MAX / rto_base): retransmissions before the cap is hit.
  const uint32_t ratio = TCP_RTO_MAX_US / rto_base_us;
  const unsigned linear_backoff_thresh =
      ratio == 0 ? 0 : static_cast<unsigned>(std::bit_width(ratio)) - 1;
  if (boundary <= linear_backoff_thresh) return ((uint64_t{2} << boundary) - 1) * rto_base_us;
  return ((uint64_t{2} << linear_backoff_thresh) - 1) * rto_base_us +
         uint64_t{boundary - linear_backoff_thresh} * TCP_RTO_MAX_US;
}

}  // namespace dpx::tcp
