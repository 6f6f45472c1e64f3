// HealthState: rise/fall transitions, the initial states, reconfigure.
#include "proxy/health.h"

#include <gtest/gtest.h>

#include <string>

namespace dpx::proxy {
namespace {

constexpr bool kOk = true;
constexpr bool kFail = false;

TEST(Health, DefaultStartsUpAndTheFirstFailureTakesItDown) {
  HealthState h(2, 3);
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.Describe(), "UP 2/3");
  EXPECT_EQ(h.Report(kFail), HealthTransition::kWentDown);
  EXPECT_FALSE(h.up());
  EXPECT_EQ(h.Describe(), "DOWN");
  EXPECT_EQ(h.transitions(), 1u);
}

TEST(Health, DefaultStartsUpAndTheFirstSuccessMakesItFullyUp) {
  HealthState h(2, 3);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Describe(), "UP");
  // Now `fall` consecutive failures are needed.
  EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
  EXPECT_EQ(h.Describe(), "UP 1/3");
  EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
  EXPECT_EQ(h.Describe(), "UP 2/3");
  EXPECT_EQ(h.Report(kFail), HealthTransition::kWentDown);
  EXPECT_FALSE(h.up());
}

TEST(Health, FailuresMustBeConsecutiveToGoDown) {
  HealthState h(2, 3, HealthState::Initial::kFullyUp);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
    EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
    EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);  // resets the fall count
    EXPECT_TRUE(h.up());
  }
  EXPECT_EQ(h.checks_ok(), 10u);
  EXPECT_EQ(h.checks_failed(), 20u);
  EXPECT_EQ(h.transitions(), 0u);
}

TEST(Health, SuccessesMustBeConsecutiveToComeUp) {
  HealthState h(3, 2, HealthState::Initial::kFullyDown);
  EXPECT_FALSE(h.up());
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Describe(), "DOWN 1/3");
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Describe(), "DOWN 2/3");
  EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);  // starts over
  EXPECT_EQ(h.Describe(), "DOWN");
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kWentUp);
  EXPECT_TRUE(h.up());
  EXPECT_EQ(h.Describe(), "UP");
  // Fully up: fall = 2 failures to go down.
  EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kFail), HealthTransition::kWentDown);
}

TEST(Health, DownInitialComesUpOnTheFirstSuccess) {
  HealthState h(3, 2, HealthState::Initial::kDown);
  EXPECT_FALSE(h.up());
  EXPECT_EQ(h.Describe(), "DOWN 2/3");
  EXPECT_EQ(h.Report(kOk), HealthTransition::kWentUp);
  EXPECT_EQ(h.Describe(), "UP");
}

TEST(Health, DownInitialFailureNeedsTheFullRise) {
  HealthState h(3, 2, HealthState::Initial::kDown);
  EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kWentUp);
}

TEST(Health, RiseAndFallOfOne) {
  HealthState h(1, 1, HealthState::Initial::kFullyUp);
  EXPECT_EQ(h.Describe(), "UP");
  EXPECT_EQ(h.Report(kFail), HealthTransition::kWentDown);
  EXPECT_EQ(h.Report(kFail), HealthTransition::kNone);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kWentUp);
  EXPECT_EQ(h.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(h.transitions(), 2u);
  HealthState z(0, 0);  // taken as 1, 1
  EXPECT_EQ(z.rise(), 1u);
  EXPECT_EQ(z.fall(), 1u);
}

TEST(Health, ReconfigureKeepsUpOrDown) {
  HealthState up(2, 3);
  up.Report(kOk);
  up.Report(kFail);
  up.Reconfigure(5, 5);
  EXPECT_TRUE(up.up());
  EXPECT_EQ(up.Describe(), "UP");  // fully up under the new fall
  for (int i = 0; i < 4; ++i) EXPECT_EQ(up.Report(kFail), HealthTransition::kNone);
  EXPECT_EQ(up.Report(kFail), HealthTransition::kWentDown);

  HealthState down(2, 3, HealthState::Initial::kDown);
  down.Reconfigure(4, 1);
  EXPECT_FALSE(down.up());
  EXPECT_EQ(down.Describe(), "DOWN");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(down.Report(kOk), HealthTransition::kNone);
  EXPECT_EQ(down.Report(kOk), HealthTransition::kWentUp);
}

TEST(Health, TransitionNames) {
  EXPECT_STREQ(HealthTransitionName(HealthTransition::kNone), "none");
  EXPECT_STREQ(HealthTransitionName(HealthTransition::kWentUp), "up");
  EXPECT_STREQ(HealthTransitionName(HealthTransition::kWentDown), "down");
}

}  // namespace
}  // namespace dpx::proxy
