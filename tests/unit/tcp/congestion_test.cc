#include "tcp/congestion.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dpx::tcp {
namespace {

constexpr uint64_t kMs = 1000;  // in us

// A bulk sender that always has data: each round trip, every packet of the
// window is ACKed one by one, evenly spread over the RTT. Sequence numbers
// count packets.
struct Flow {
  CcState s;
  CcEnv env;
  uint32_t snd_una = 1000;
  uint32_t rtt_us = 100 * kMs;

  explicit Flow(const CongestionOps& ops, uint64_t start_us = 5'000 * kMs) {
    env.now_us = start_us;
    env.snd_nxt = snd_una + s.snd_cwnd;
    CcInit(s, ops, env);
  }

  void Round() {
    const uint32_t n = s.snd_cwnd;
    env.snd_nxt = snd_una + n;  // the window is in flight
    s.max_packets_out = n;
    s.is_cwnd_limited = true;
    for (uint32_t i = 0; i < n; ++i) {
      env.now_us += rtt_us / n;
      ++snd_una;
      AckSample a;
      a.pkts_acked = 1;
      a.rtt_us = static_cast<int32_t>(rtt_us);
      a.in_flight = n - i - 1;
      CcPktsAcked(s, env, a);
      CcCongAvoid(s, env, snd_una, 1);
    }
  }

  // Fast retransmit: enter recovery and come out at ssthresh, as TCP
  // input does (tcp_enter_recovery ... tcp_end_cwnd_reduction).
  void Loss() {
    s.prior_cwnd = s.snd_cwnd;
    s.snd_ssthresh = CcSsthresh(s);
    CcSetState(s, env, CaState::kRecovery);
    s.snd_cwnd = s.snd_ssthresh;
    s.snd_cwnd_cnt = 0;
    CcSetState(s, env, CaState::kOpen);
  }

  double Seconds() const { return static_cast<double>(env.now_us) / 1e6; }
};

// ---- Registry ----

TEST(CongestionRegistryTest, ByName) {
  EXPECT_EQ(FindCongestionOps("cubic"), &kTcpCubicOps);
  EXPECT_EQ(FindCongestionOps("reno"), &kTcpRenoOps);
  EXPECT_EQ(FindCongestionOps("newreno"), &kTcpRenoOps);
  EXPECT_EQ(FindCongestionOps("bbr"), nullptr);
  EXPECT_EQ(FindCongestionOps(""), nullptr);
  EXPECT_EQ(&DefaultCongestionOps(), &kTcpCubicOps);
  EXPECT_EQ(std::string(kTcpCubicOps.name), "cubic");
  EXPECT_EQ(std::string(kTcpRenoOps.name), "reno");
  EXPECT_EQ(AvailableCongestionControl(), "reno cubic");
}

TEST(CongestionHelpersTest, SlowStartStopsAtSsthresh) {
  CcState s;
  s.snd_cwnd = 30;
  s.snd_ssthresh = 32;
  EXPECT_EQ(TcpSlowStart(s, 10), 8u);  // 2 used to reach ssthresh
  EXPECT_EQ(s.snd_cwnd, 32u);
}

TEST(CongestionHelpersTest, CongAvoidAiKeepsRemainder) {
  CcState s;
  s.snd_cwnd = 10;
  TcpCongAvoidAi(s, 10, 25);
  EXPECT_EQ(s.snd_cwnd, 12u);
  EXPECT_EQ(s.snd_cwnd_cnt, 5u);
  s.snd_cwnd_clamp = 12;
  TcpCongAvoidAi(s, 10, 30);
  EXPECT_EQ(s.snd_cwnd, 12u);
}

TEST(CongestionHelpersTest, CwndLimited) {
  CcState s;
  s.snd_cwnd = 10;
  s.max_packets_out = 4;
  EXPECT_FALSE(TcpIsCwndLimited(s));  // app-limited
  s.max_packets_out = 6;              // in slow start: grow to 2x what was out
  EXPECT_TRUE(TcpIsCwndLimited(s));
  s.snd_ssthresh = 5;
  EXPECT_FALSE(TcpIsCwndLimited(s));
  s.is_cwnd_limited = true;
  EXPECT_TRUE(TcpIsCwndLimited(s));
}

// ---- Reno / NewReno ----

TEST(RenoTest, SlowStartDoublesPerRtt) {
  Flow f(kTcpRenoOps);
  EXPECT_EQ(f.s.snd_cwnd, TCP_INIT_CWND);
  EXPECT_EQ(f.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);
  for (uint32_t want : {20u, 40u, 80u, 160u}) {
    f.Round();
    EXPECT_EQ(f.s.snd_cwnd, want);
  }
}

TEST(RenoTest, LossHalvesAndAvoidanceAddsOnePerRtt) {
  Flow f(kTcpRenoOps);
  for (int i = 0; i < 3; ++i) f.Round();  // cwnd 80
  f.Loss();
  EXPECT_EQ(f.s.snd_ssthresh, 40u);
  EXPECT_EQ(f.s.snd_cwnd, 40u);
  for (uint32_t want : {41u, 42u, 43u, 44u}) {
    f.Round();
    EXPECT_EQ(f.s.snd_cwnd, want);
  }
}

TEST(RenoTest, SsthreshFloorIsTwo) {
  Flow f(kTcpRenoOps);
  for (uint32_t cwnd : {1u, 2u, 3u, 4u, 5u}) {
    f.s.snd_cwnd = cwnd;
    EXPECT_EQ(CcSsthresh(f.s), cwnd / 2 > 2 ? cwnd / 2 : 2u) << cwnd;
  }
}

TEST(RenoTest, NoGrowthWhenAppLimited) {
  Flow f(kTcpRenoOps);
  f.s.is_cwnd_limited = false;
  f.s.max_packets_out = 2;
  for (int i = 0; i < 10; ++i) CcCongAvoid(f.s, f.env, f.snd_una + i, 1);
  EXPECT_EQ(f.s.snd_cwnd, TCP_INIT_CWND);
}

TEST(RenoTest, UndoRestoresPriorCwnd) {
  Flow f(kTcpRenoOps);
  f.s.snd_cwnd = 50;
  f.Loss();
  EXPECT_EQ(CcUndoCwnd(f.s), 50u);
}

// ---- CUBIC ----

TEST(CubicTest, SlowStartDoublesPerRtt) {
  Flow f(kTcpCubicOps);
  for (uint32_t want : {20u, 40u, 80u, 160u}) {
    f.Round();
    EXPECT_EQ(f.s.snd_cwnd, want);
  }
  EXPECT_EQ(f.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);  // steady RTT: no HyStart exit
}

TEST(CubicTest, LossCutsToBeta) {
  Flow f(kTcpCubicOps);
  f.s.snd_cwnd = 100;
  EXPECT_EQ(CcSsthresh(f.s), 70u);  // 100 * 717 / 1024
  f.s.snd_cwnd = 1000;
  EXPECT_EQ(CcSsthresh(f.s), 700u);
  f.s.snd_cwnd = 2;
  EXPECT_EQ(CcSsthresh(f.s), 2u);
}

TEST(CubicTest, FastConvergenceLowersWmax) {
  // a: loses at 100, then again at 80 (< W_max): remembers 80 * 0.85 = 68.
  // b: loses at 80 with no history: remembers 80.
  Flow a(kTcpCubicOps), b(kTcpCubicOps);
  a.s.snd_cwnd = 100;
  a.Loss();
  a.s.snd_cwnd = 80;
  a.Loss();
  b.s.snd_cwnd = 80;
  b.Loss();
  ASSERT_EQ(a.s.snd_cwnd, 56u);
  ASSERT_EQ(b.s.snd_cwnd, 56u);
  for (int i = 0; i < 30; ++i) {  // 3 s: both near their plateaus
    a.Round();
    b.Round();
  }
  EXPECT_LE(a.s.snd_cwnd, 72u);
  EXPECT_GE(b.s.snd_cwnd, 76u);
}

TEST(CubicTest, GrowthIsCubicAroundWmaxAtK) {
  Flow f(kTcpCubicOps);
  f.s.snd_cwnd = 100;
  f.s.snd_ssthresh = 100;  // in congestion avoidance at W_max = 100
  f.Loss();
  ASSERT_EQ(f.s.snd_cwnd, 70u);
  // K = cbrt(W_max * (1 - beta) / C) = cbrt(30 / 0.4) = 4.22 s.
  const double t0 = f.Seconds();
  std::vector<std::pair<double, uint32_t>> trace;
  while (f.Seconds() - t0 < 9.0) {
    f.Round();
    trace.emplace_back(f.Seconds() - t0, f.s.snd_cwnd);
  }
  auto cwnd_at = [&](double t) {
    uint32_t c = 70;
    for (const auto& [ts, cw] : trace)
      if (ts <= t) c = cw;
    return c;
  };
  // cwnd is an integer, so it sits at W_max for as long as the curve is
  // within one packet of it: a plateau centred on K (shifted one minimum
  // RTT earlier, as Linux adds delay_min to t).
  const double K = 4.217 - 0.1;
  double reached = -1, left = -1;
  for (const auto& [ts, cw] : trace) {
    if (reached < 0 && cw >= 100) reached = ts;
    if (left < 0 && cw > 100) left = ts;
  }
  ASSERT_GT(reached, 0);
  ASSERT_GT(left, 0);
  EXPECT_LT(reached, K);
  EXPECT_GT(left, K);
  EXPECT_NEAR((reached + left) / 2, K, 0.4);
  auto grew = [&](double from, double to) {
    return static_cast<int>(cwnd_at(to)) - static_cast<int>(cwnd_at(from));
  };
  // Concave below W_max: fast at first, flattening out.
  EXPECT_GT(grew(0.0, 1.0), 10);
  EXPECT_GT(grew(0.0, 1.0), 2 * grew(reached - 1.0, reached));
  // Convex beyond it: probing slowly, then faster.
  EXPECT_GT(grew(left + 2.0, left + 3.0), 2 * grew(left, left + 1.0));
  // Never more than 1.5x per RTT.
  for (size_t i = 1; i < trace.size(); ++i)
    EXPECT_LE(trace[i].second * 2, trace[i - 1].second * 3 + 2) << "at " << trace[i].first;
}

TEST(CubicTest, CwndRiseAfterLossFasterThanReno) {
  Flow c(kTcpCubicOps), r(kTcpRenoOps);
  for (Flow* f : {&c, &r}) {
    f->s.snd_cwnd = 200;
    f->s.snd_ssthresh = 200;
    f->Loss();
  }
  // CUBIC keeps 70% and climbs back to W_max in K ~ 5.3 s; Reno keeps 50%
  // and adds one packet per RTT.
  for (int i = 0; i < 60; ++i) {
    c.Round();
    r.Round();
  }
  EXPECT_GE(c.s.snd_cwnd, 195u);
  EXPECT_LT(r.s.snd_cwnd, 165u);
}

TEST(CubicTest, HystartDelayEndsSlowStart) {
  Flow f(kTcpCubicOps);
  f.Round();  // 20
  f.Round();  // 40: HyStart watches from cwnd 16
  f.rtt_us = 150 * kMs;  // queue building: RTT up 50%
  f.Round();
  EXPECT_NE(f.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);
  EXPECT_LT(f.s.snd_ssthresh, 60u);
  EXPECT_GT(f.s.snd_ssthresh, 40u);
  const uint32_t after_exit = f.s.snd_cwnd;
  f.Round();
  EXPECT_LT(f.s.snd_cwnd, after_exit * 3 / 2);  // no longer doubling

  // The same RTT trace does not stop Reno's slow start.
  Flow r(kTcpRenoOps);
  r.Round();
  r.Round();
  r.rtt_us = 150 * kMs;
  r.Round();
  EXPECT_EQ(r.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);
  EXPECT_EQ(r.s.snd_cwnd, 80u);
}

TEST(CubicTest, SmallRttJitterDoesNotEndSlowStart) {
  Flow f(kTcpCubicOps);
  f.Round();
  f.Round();
  f.rtt_us = 110 * kMs;  // +10 ms, under delay_min / 8 = 12.5 ms
  f.Round();
  EXPECT_EQ(f.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);
}

TEST(CubicTest, HystartThresholdHasFloorOf4ms) {
  Flow f(kTcpCubicOps);
  f.rtt_us = 20 * kMs;  // delay_min / 8 = 2.5 ms, raised to 4 ms
  f.Round();
  f.Round();
  f.rtt_us = 23 * kMs;
  f.Round();
  EXPECT_EQ(f.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);
  f.rtt_us = 25 * kMs;
  f.Round();
  EXPECT_NE(f.s.snd_ssthresh, TCP_INFINITE_SSTHRESH);
}

TEST(CubicTest, IdleShiftsEpochInsteadOfJumping) {
  auto make = [] {
    Flow f(kTcpCubicOps);
    f.s.snd_cwnd = 100;
    f.s.snd_ssthresh = 100;
    f.Loss();
    for (int i = 0; i < 10; ++i) f.Round();  // 1 s into the epoch
    return f;
  };
  Flow with_event = make(), without = make();
  const uint64_t idle_from = with_event.env.now_us;
  for (Flow* f : {&with_event, &without}) f->env.now_us += 20'000 * kMs;  // 20 s idle
  with_event.env.lsndtime_us = idle_from;
  CcEvent(with_event.s, with_event.env, CaEvent::kTxStart);
  const uint32_t before = with_event.s.snd_cwnd;
  with_event.Round();
  without.Round();
  // Without the shift the curve is 20 s ahead and cwnd leaps by half.
  EXPECT_LE(with_event.s.snd_cwnd, before + 4);
  EXPECT_GE(without.s.snd_cwnd, before * 3 / 2 - 1);
}

TEST(CubicTest, RtoForgetsWmax) {
  // tcp_enter_loss(): ssthresh() first, then TCP_CA_Loss resets CUBIC, so
  // after slow start back to ssthresh there is no W_max to approach and
  // cwnd grows at CUBIC's floor of 5% per RTT instead of plateauing.
  auto rto = [](Flow& f) {
    f.s.prior_cwnd = f.s.snd_cwnd;
    f.s.snd_ssthresh = CcSsthresh(f.s);
    CcEvent(f.s, f.env, CaEvent::kLoss);
    f.s.snd_cwnd = 1;
    f.s.snd_cwnd_cnt = 0;
    CcSetState(f.s, f.env, CaState::kLoss);
  };
  Flow f(kTcpCubicOps), g(kTcpCubicOps);
  f.s.snd_cwnd = g.s.snd_cwnd = 100;
  rto(f);
  g.Loss();  // control: fast recovery keeps W_max = 100
  ASSERT_EQ(f.s.snd_ssthresh, 70u);
  while (f.s.snd_cwnd < f.s.snd_ssthresh) f.Round();
  CcSetState(f.s, f.env, CaState::kOpen);
  for (int i = 0; i < 20; ++i) {
    f.Round();
    g.Round();
  }
  EXPECT_GE(f.s.snd_cwnd, 150u);
  EXPECT_LE(g.s.snd_cwnd, 100u);
}

TEST(CubicTest, UndoAndClamp) {
  Flow f(kTcpCubicOps);
  f.s.snd_cwnd = 80;
  f.Loss();
  EXPECT_EQ(CcUndoCwnd(f.s), 80u);
  Flow g(kTcpCubicOps);
  g.s.snd_cwnd_clamp = 25;
  for (int i = 0; i < 5; ++i) g.Round();
  EXPECT_EQ(g.s.snd_cwnd, 25u);
}

}  // namespace
}  // namespace dpx::tcp
