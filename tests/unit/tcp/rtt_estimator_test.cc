#include "tcp/rtt_estimator.h"

#include <gtest/gtest.h>

namespace dpx::tcp {
namespace {

constexpr uint32_t kMs = 1000;

TEST(RttEstimatorTest, InitialRtoIsOneSecond) {
  RttEstimator e;
  EXPECT_FALSE(e.has_sample());
  EXPECT_EQ(e.rto_us(), TCP_TIMEOUT_INIT_US);
  EXPECT_EQ(e.rto_us(), 1'000'000u);
  EXPECT_EQ(e.backoff(), 0);
}

TEST(RttEstimatorTest, FirstSample) {
  RttEstimator e;
  e.Sample(100 * kMs, 0, 1000);
  EXPECT_TRUE(e.has_sample());
  EXPECT_EQ(e.srtt_us(), 100 * kMs);    // SRTT = R
  EXPECT_EQ(e.rttvar_us(), 50 * kMs);   // RTTVAR = R / 2
  // RTO = SRTT + max(4 * RTTVAR, TCP_RTO_MIN) = 100 + max(200, 200)
  EXPECT_EQ(e.rto_us(), 300 * kMs);
}

TEST(RttEstimatorTest, ShortPathRtoIsSrttPlusRtoMin) {
  // Linux floors RTTVAR, not the RTO: 10 ms gives 210 ms (RFC 6298: 200).
  RttEstimator e;
  e.Sample(10 * kMs, 0, 1000);
  EXPECT_EQ(e.rto_us(), 210 * kMs);
  RttEstimator z;
  z.Sample(0, 0, 1000);  // a 0 us sample counts as 1 us
  EXPECT_EQ(z.srtt_us(), 1u);
  EXPECT_EQ(z.rto_us(), 200 * kMs + 1);
}

TEST(RttEstimatorTest, LongPathFirstSampleIsThreeRtts) {
  RttEstimator e;
  e.Sample(1000 * kMs, 0, 1000);
  EXPECT_EQ(e.rto_us(), 3000 * kMs);
}

TEST(RttEstimatorTest, SubsequentSamplesFollowLinux) {
  RttEstimator e;
  e.Sample(100 * kMs, 0, 1000);  // rtt_seq = 1000
  // RTT rose to 200 ms; this ACK is past rtt_seq (a new flight).
  e.Sample(200 * kMs, 1001, 2000);
  // srtt8 = 800000 + (200000 - 100000) = 900000
  EXPECT_EQ(e.srtt8_us(), 900'000u);
  EXPECT_EQ(e.srtt_us(), 112'500u);
  // mdev = 200000 + (100000 - 50000) = 250000; rttvar takes it.
  EXPECT_EQ(e.rttvar_us(), 62'500u);
  EXPECT_EQ(e.rto_rttvar_us(), 250'000u);
  EXPECT_EQ(e.rto_us(), 112'500u + 250'000u);

  // Back to 100 ms within the same flight (snd_una not past 2000): the
  // smaller error moves mdev down, but RTTVAR keeps the flight's maximum.
  e.Sample(100 * kMs, 1500, 2500);
  EXPECT_EQ(e.srtt8_us(), 887'500u);
  EXPECT_EQ(e.rttvar_us(), 50'000u);       // mdev 250000 - 50000 = 200000
  EXPECT_EQ(e.rto_rttvar_us(), 250'000u);  // unchanged this flight
  EXPECT_EQ(e.rto_us(), 110'937u + 250'000u);
}

TEST(RttEstimatorTest, FallingRttMovesMdevSlowly) {
  RttEstimator e;
  e.Sample(100 * kMs, 0, 10);
  // Error -60 ms: |m| - mdev/4 = 60000 - 50000 = 10000 > 0, taken at 1/8.
  e.Sample(40 * kMs, 5, 10);
  EXPECT_EQ(e.srtt8_us(), 800'000u - 60'000u);
  EXPECT_EQ(e.rttvar_us(), (200'000u + 1'250u) >> 2);
}

TEST(RttEstimatorTest, ConvergesOnSteadyRtt) {
  RttEstimator e;
  uint32_t una = 0;
  e.Sample(300 * kMs, una, una + 10);
  for (int flight = 0; flight < 300; ++flight) {
    una += 10;
    e.Sample(50 * kMs, una + 1, una + 11);
  }
  EXPECT_EQ(e.srtt_us(), 50 * kMs);
  // RTTVAR decays to TCP_RTO_MIN (within Linux's integer rounding).
  EXPECT_GE(e.rto_us(), 250 * kMs);
  EXPECT_LE(e.rto_us(), 250 * kMs + 4);
}

TEST(RttEstimatorTest, CustomRtoMin) {
  RttEstimator e;
  e.Sample(1 * kMs, 0, 10, 5 * kMs);
  EXPECT_EQ(e.rto_us(), 1 * kMs + 5 * kMs);
}

TEST(RttEstimatorTest, BackoffDoublesToRtoMax) {
  RttEstimator e;
  e.Sample(100 * kMs, 0, 10);
  uint32_t want = 300 * kMs;
  for (int i = 1; i <= 20; ++i) {
    e.Backoff();
    want = want * 2 > TCP_RTO_MAX_US ? TCP_RTO_MAX_US : want * 2;
    EXPECT_EQ(e.rto_us(), want) << "after " << i << " timeouts";
    EXPECT_EQ(e.backoff(), i);
  }
  EXPECT_EQ(e.rto_us(), 120'000 * kMs);
}

TEST(RttEstimatorTest, InitialRtoBacksOffForSyn) {
  RttEstimator e;  // SYN retransmits: 1, 2, 4, 8, 16, 32 s
  const uint32_t want[] = {2, 4, 8, 16, 32, 64};
  for (uint32_t w : want) {
    e.Backoff();
    EXPECT_EQ(e.rto_us(), w * 1000 * kMs);
  }
}

TEST(RttEstimatorTest, SampleClearsBackoff) {
  RttEstimator e;
  e.Sample(100 * kMs, 0, 10);
  e.Backoff();
  e.Backoff();
  ASSERT_EQ(e.backoff(), 2);
  e.Sample(100 * kMs, 11, 20);
  EXPECT_EQ(e.backoff(), 0);
  EXPECT_LT(e.rto_us(), 600 * kMs);
}

TEST(RttEstimatorTest, ProbeBackoffByCount) {
  RttEstimator e;  // rto 1 s
  for (int i = 0; i < 3; ++i) e.IncBackoff();
  EXPECT_EQ(e.rto_us(), 1'000 * kMs);  // base untouched
  EXPECT_EQ(e.BackedOffRtoUs(), 8'000 * kMs);
  for (int i = 0; i < 40; ++i) e.IncBackoff();
  EXPECT_EQ(e.BackedOffRtoUs(), TCP_RTO_MAX_US);
  EXPECT_EQ(e.BackedOffRtoUs(60'000 * kMs), 60'000 * kMs);
  e.ResetBackoff();
  EXPECT_EQ(e.BackedOffRtoUs(), 1'000 * kMs);
}

TEST(RttEstimatorTest, ModelTimeoutForRetries) {
  // tcp_retries2 = 15 with TCP_RTO_MIN: 924.6 s (Linux's documented value).
  EXPECT_EQ(TcpModelTimeoutUs(TCP_RETR2), 924'600'000u);
  // tcp_retries1 = 3: 0.2 + 0.4 + 0.8 + 1.6 = 3 s.
  EXPECT_EQ(TcpModelTimeoutUs(TCP_RETR1), 3'000'000u);
  // tcp_syn_retries = 6 from TCP_TIMEOUT_INIT: 127 s.
  EXPECT_EQ(TcpModelTimeoutUs(TCP_SYN_RETRIES, TCP_TIMEOUT_INIT_US), 127'000'000u);
  EXPECT_EQ(TcpModelTimeoutUs(0), 200'000u);
}

}  // namespace
}  // namespace dpx::tcp
