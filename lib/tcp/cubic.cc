// CUBIC (RFC 9438) as Linux tcp_cubic.c computes it, in integer math:
// beta = 717/1024 (0.7), C = 0.4 (bic_scale 41/1024 scaled by the 100 ms
// reference RTT folded into cube_factor), fast convergence on, TCP
// friendliness on, cwnd growth capped at 1.5x per RTT (cnt >= 2).
// Time is counted in 1 ms jiffies (HZ = 1000), delays in microseconds.
//
// Differences from Linux, on purpose:
//  - HyStart is simplified to its delay detector (HYSTART_DELAY): slow
//    start ends when the minimum RTT of a round's first 8 ACKs exceeds the
//    connection's minimum RTT by delay_min/8, clamped to [4, 16] ms. The
//    ACK-train detector (HYSTART_ACK_TRAIN) is left out: it depends on
//    pacing and ACK compression that dpx does not model. No HyStart MIB
//    counters yet.
//  - The cube root is exact (integer Newton iteration) instead of Linux's
//    table-plus-one-iteration approximation (< 1% apart).
#include <cstdint>
#include <new>

#include "tcp/congestion.h"
#include "tcp/seq.h"

namespace dpx::tcp {
namespace {

constexpr uint32_t kHz = 1000;                // jiffies per second
constexpr uint32_t BICTCP_BETA_SCALE = 1024;  // scale factor for beta
constexpr uint32_t BICTCP_HZ = 10;            // BIC HZ 2^10 = 1024
constexpr bool fast_convergence = true;
constexpr uint32_t beta = 717;                // = 717/1024 (BICTCP_BETA_SCALE)
constexpr uint32_t bic_scale = 41;
constexpr bool tcp_friendliness = true;
constexpr bool hystart = true;
constexpr uint32_t hystart_low_window = 16;
constexpr uint32_t HYSTART_MIN_SAMPLES = 8;
constexpr uint32_t HYSTART_DELAY_MIN = 4000;   // us
constexpr uint32_t HYSTART_DELAY_MAX = 16000;  // us

// Precomputed as in cubictcp_register().
constexpr uint32_t beta_scale = 8 * (BICTCP_BETA_SCALE + beta) / 3 / (BICTCP_BETA_SCALE - beta);
constexpr uint32_t cube_rtt_scale = bic_scale * 10;  // 1024 * c / rtt
// 1/c * 2^(3 * BICTCP_HZ) * srtt, with srtt the constant 100 ms.
constexpr uint64_t cube_factor = (uint64_t{1} << (10 + 3 * BICTCP_HZ)) / (bic_scale * 10);

struct Bictcp {
  uint32_t cnt;               // increase cwnd by 1 after this many ACKs
  uint32_t last_max_cwnd;     // last maximum snd_cwnd (W_max)
  uint32_t last_cwnd;         // the last snd_cwnd
  uint32_t last_time;         // jiffies when last_cwnd was updated
  uint32_t bic_origin_point;  // origin point of the cubic function
  uint32_t bic_K;             // time to origin point from epoch, in 1/1024 s
  uint32_t delay_min;         // min delay (us)
  uint32_t epoch_start;       // jiffies at the start of an epoch (0: none)
  uint32_t ack_cnt;           // number of ACKed packets
  uint32_t tcp_cwnd;          // estimated Reno cwnd
  // HyStart (delay detector only)
  uint8_t found;
  uint8_t sample_cnt;         // samples to decide curr_rtt
  uint32_t round_start;       // beginning of each round (us)
  uint32_t end_seq;           // end_seq of the round
  uint32_t curr_rtt;          // the minimum rtt of current round (us)
};
static_assert(sizeof(Bictcp) <= kCaPrivSize);

inline uint32_t Jiffies(const CcEnv& env) { return static_cast<uint32_t>(env.now_us / 1000); }
inline uint32_t ClockUs(const CcEnv& env) { return static_cast<uint32_t>(env.now_us); }
inline uint32_t UsecsToJiffies(uint32_t us) { return (us + 999) / 1000; }

// floor(cbrt(a)).
uint32_t CubicRoot(uint64_t a) {
  if (a == 0) return 0;
  // Start above the root and walk down with Newton: x' = (2x + a/x^2) / 3.
  uint64_t x = uint64_t{1} << ((64 - __builtin_clzll(a) + 2) / 3);
  for (;;) {
    const uint64_t y = (2 * x + a / (x * x)) / 3;
    if (y >= x) break;
    x = y;
  }
  while (x * x * x > a) --x;
  while ((x + 1) * (x + 1) * (x + 1) <= a) ++x;
  return static_cast<uint32_t>(x);
}

// bictcp_reset(). Linux keeps the HyStart round fields; every caller here
// re-arms them with BictcpHystartReset() right after, as Linux does.
void BictcpReset(Bictcp* ca) { *ca = Bictcp{}; }

void BictcpHystartReset(Bictcp* ca, const CcEnv& env) {
  ca->round_start = ClockUs(env);
  ca->end_seq = env.snd_nxt;
  ca->curr_rtt = ~0u;
  ca->sample_cnt = 0;
}

void CubicInit(CcState& s, const CcEnv& env) {
  Bictcp* ca = new (s.priv) Bictcp{};
  BictcpReset(ca);
  if (hystart) BictcpHystartReset(ca, env);
  // initial_ssthresh is 0 (unset) in Linux: snd_ssthresh stays as it is.
}

// bictcp_update(): the cubic target and how many ACKs per +1 cwnd (cnt).
void BictcpUpdate(Bictcp* ca, const CcEnv& env, uint32_t cwnd, uint32_t acked) {
  const uint32_t now = Jiffies(env);
  ca->ack_cnt += acked;

  if (ca->last_cwnd == cwnd && static_cast<int32_t>(now - ca->last_time) <= int32_t{kHz / 32})
    return;

  // The cubic function may update cnt at most once per jiffy; every cwnd
  // reduction zeroes epoch_start, forcing a recalculation.
  if (!(ca->epoch_start && now == ca->last_time)) {
    ca->last_cwnd = cwnd;
    ca->last_time = now;

    if (ca->epoch_start == 0) {
      ca->epoch_start = now ? now : 1;  // 0 means "no epoch"
      ca->ack_cnt = acked;              // start counting
      ca->tcp_cwnd = cwnd;              // sync with cubic
      if (ca->last_max_cwnd <= cwnd) {
        ca->bic_K = 0;
        ca->bic_origin_point = cwnd;
      } else {
        // K = cbrt((W_max - cwnd) / C), in units of 1/1024 s.
        ca->bic_K = CubicRoot(cube_factor * (ca->last_max_cwnd - cwnd));
        ca->bic_origin_point = ca->last_max_cwnd;
      }
    }

    // t in 1/1024 s since the epoch, one minimum RTT ahead.
    uint64_t t = static_cast<uint32_t>(static_cast<int32_t>(now - ca->epoch_start));
    t += UsecsToJiffies(ca->delay_min);
    t = (t << BICTCP_HZ) / kHz;

    uint64_t offs = t < ca->bic_K ? ca->bic_K - t : t - ca->bic_K;
    // Linux lets the cube overflow after very long epochs; cap |t - K| at
    // 256 s, where the target is millions of packets away anyway.
    if (offs > (uint64_t{1} << 18)) offs = uint64_t{1} << 18;
    // c/rtt * (t - K)^3
    const uint32_t delta =
        static_cast<uint32_t>((cube_rtt_scale * offs * offs * offs) >> (10 + 3 * BICTCP_HZ));
    const uint32_t bic_target =
        t < ca->bic_K ? ca->bic_origin_point - delta : ca->bic_origin_point + delta;

    if (bic_target > cwnd)
      ca->cnt = cwnd / (bic_target - cwnd);
    else
      ca->cnt = 100 * cwnd;  // very small increment

    // The initial growth may be too conservative when the available
    // bandwidth is still unknown: at least 5% per RTT.
    if (ca->last_max_cwnd == 0 && ca->cnt > 20) ca->cnt = 20;
  }

  // TCP friendliness: never grow slower than Reno with the same beta.
  if (tcp_friendliness) {
    const uint32_t d = (cwnd * beta_scale) >> 3;
    if (d > 0) {
      while (ca->ack_cnt > d) {
        ca->ack_cnt -= d;
        ca->tcp_cwnd++;
      }
    }
    if (ca->tcp_cwnd > cwnd) {
      const uint32_t max_cnt = cwnd / (ca->tcp_cwnd - cwnd);
      if (ca->cnt > max_cnt) ca->cnt = max_cnt;
    }
  }

  // At most 1 packet per 2 ACKed: cwnd grows at most 1.5x per RTT.
  if (ca->cnt < 2) ca->cnt = 2;
}

void CubicCongAvoid(CcState& s, const CcEnv& env, uint32_t ack, uint32_t acked) {
  Bictcp* ca = s.Priv<Bictcp>();
  if (!TcpIsCwndLimited(s)) return;
  if (TcpInSlowStart(s)) {
    if (hystart && SeqAfter(ack, ca->end_seq)) BictcpHystartReset(ca, env);
    acked = TcpSlowStart(s, acked);
    if (!acked) return;
  }
  BictcpUpdate(ca, env, s.snd_cwnd, acked);
  TcpCongAvoidAi(s, ca->cnt, acked);
}

// cubictcp_recalc_ssthresh().
uint32_t CubicSsthresh(CcState& s) {
  Bictcp* ca = s.Priv<Bictcp>();
  ca->epoch_start = 0;  // end of epoch
  // W_max and fast convergence: a flow losing at a lower W_max than last
  // time releases bandwidth by remembering less.
  if (s.snd_cwnd < ca->last_max_cwnd && fast_convergence)
    ca->last_max_cwnd = (s.snd_cwnd * (BICTCP_BETA_SCALE + beta)) / (2 * BICTCP_BETA_SCALE);
  else
    ca->last_max_cwnd = s.snd_cwnd;
  const uint32_t ss = (s.snd_cwnd * beta) / BICTCP_BETA_SCALE;
  return ss > 2 ? ss : 2;
}

// cubictcp_state().
void CubicSetState(CcState& s, const CcEnv& env, CaState new_state) {
  if (new_state == CaState::kLoss) {
    Bictcp* ca = s.Priv<Bictcp>();
    BictcpReset(ca);
    BictcpHystartReset(ca, env);
  }
}

// cubictcp_cwnd_event(): after an idle period, shift the epoch so cwnd
// growth stays on the cubic curve instead of jumping.
void CubicCwndEvent(CcState& s, const CcEnv& env, CaEvent ev) {
  if (ev != CaEvent::kTxStart) return;
  Bictcp* ca = s.Priv<Bictcp>();
  const uint32_t now = Jiffies(env);
  const int32_t delta =
      static_cast<int32_t>(now - static_cast<uint32_t>(env.lsndtime_us / 1000));
  if (ca->epoch_start && delta > 0) {
    ca->epoch_start += static_cast<uint32_t>(delta);
    if (SeqAfter(ca->epoch_start, now)) ca->epoch_start = now;
  }
}

// hystart_update(), delay detector only.
void HystartUpdate(CcState& s, Bictcp* ca, uint32_t delay) {
  if (ca->curr_rtt > delay) ca->curr_rtt = delay;
  if (ca->sample_cnt < HYSTART_MIN_SAMPLES) {
    ca->sample_cnt++;
    return;
  }
  uint32_t thresh = ca->delay_min >> 3;
  if (thresh < HYSTART_DELAY_MIN) thresh = HYSTART_DELAY_MIN;
  if (thresh > HYSTART_DELAY_MAX) thresh = HYSTART_DELAY_MAX;
  if (ca->curr_rtt > ca->delay_min + thresh) {
    ca->found = 1;
    s.snd_ssthresh = s.snd_cwnd;
  }
}

// cubictcp_acked(): track the minimum RTT; drive HyStart.
void CubicPktsAcked(CcState& s, const CcEnv& env, const AckSample& sample) {
  Bictcp* ca = s.Priv<Bictcp>();
  if (sample.rtt_us < 0) return;  // duplicate without timestamp
  // Discard delay samples right after fast recovery.
  if (ca->epoch_start && static_cast<int32_t>(Jiffies(env) - ca->epoch_start) < int32_t{kHz})
    return;
  uint32_t delay = static_cast<uint32_t>(sample.rtt_us);
  if (delay == 0) delay = 1;
  if (ca->delay_min == 0 || ca->delay_min > delay) ca->delay_min = delay;
  if (!ca->found && TcpInSlowStart(s) && hystart && s.snd_cwnd >= hystart_low_window)
    HystartUpdate(s, ca, delay);
}

}  // namespace

const CongestionOps kTcpCubicOps = {
    .name = "cubic",
    .init = CubicInit,
    .ssthresh = CubicSsthresh,
    .cong_avoid = CubicCongAvoid,
    .set_state = CubicSetState,
    .cwnd_event = CubicCwndEvent,
    .pkts_acked = CubicPktsAcked,
    .undo_cwnd = TcpRenoUndoCwnd,
};

}  // namespace dpx::tcp
