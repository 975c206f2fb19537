// Learning-rate schedules against their closed forms (transformers/optimization.py), at chosen steps.
#include "trainer/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ladle::trainer {
namespace {

LrSchedule make(ScheduleKind kind, std::int64_t warmup, double min_ratio, std::int64_t total) {
  ScheduleConfig config;
  config.name = kind;
  config.warmup_steps = warmup;
  config.min_lr_ratio = min_ratio;
  return LrSchedule(config, 0.1, total);
}

TEST(LrSchedule, ConstantRampsUpOverTheWarmupThenHolds) {
  const auto schedule = make(ScheduleKind::constant, 4, 0.0, 10);
  EXPECT_DOUBLE_EQ(schedule.at(0), 0.0);
  EXPECT_DOUBLE_EQ(schedule.at(1), 0.025);
  EXPECT_DOUBLE_EQ(schedule.at(3), 0.075);
  EXPECT_DOUBLE_EQ(schedule.at(4), 0.1);
  EXPECT_DOUBLE_EQ(schedule.at(9), 0.1);
}

TEST(LrSchedule, ConstantWithoutWarmupStartsAtTheBaseRate) {
  EXPECT_DOUBLE_EQ(make(ScheduleKind::constant, 0, 0.0, 10).at(0), 0.1);
}

TEST(LrSchedule, LinearDecaysFromTheBaseRateToZeroAtTheLastStep) {
  // After warmup w = 2 of T = 10 steps: 0.1 · (10 − step) / 8.
  const auto schedule = make(ScheduleKind::linear, 2, 0.0, 10);
  EXPECT_DOUBLE_EQ(schedule.at(1), 0.05);
  EXPECT_DOUBLE_EQ(schedule.at(2), 0.1);
  EXPECT_DOUBLE_EQ(schedule.at(6), 0.05);
  EXPECT_DOUBLE_EQ(schedule.at(9), 0.0125);
  EXPECT_DOUBLE_EQ(schedule.at(10), 0.0);
}

TEST(LrSchedule, LinearEndsAtTheMinimumRatio) {
  // 0.1 · (0.2 + 0.8 · (10 − 6) / 8) = 0.06.
  const auto schedule = make(ScheduleKind::linear, 2, 0.2, 10);
  EXPECT_NEAR(schedule.at(6), 0.06, 1e-15);
  EXPECT_NEAR(schedule.at(10), 0.02, 1e-15);
}

TEST(LrSchedule, CosineFollowsHalfACosineAfterTheWarmup) {
  // After warmup w = 2 of T = 12: 0.1 · ½(1 + cos(π (step − 2) / 10)).
  const auto schedule = make(ScheduleKind::cosine, 2, 0.0, 12);
  EXPECT_DOUBLE_EQ(schedule.at(2), 0.1);
  EXPECT_NEAR(schedule.at(7), 0.05, 1e-15);
  EXPECT_NEAR(schedule.at(4), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.2)), 1e-15);
  EXPECT_NEAR(schedule.at(12), 0.0, 1e-15);
}

TEST(LrSchedule, CosineEndsAtTheMinimumRatio) {
  // transformers' cosine_with_min_lr: factor · (1 − m) + m, here at the midpoint ½ · 0.9 + 0.1.
  const auto schedule = make(ScheduleKind::cosine, 0, 0.1, 10);
  EXPECT_NEAR(schedule.at(5), 0.1 * 0.55, 1e-15);
  EXPECT_NEAR(schedule.at(10), 0.01, 1e-15);
}

}  // namespace
}  // namespace ladle::trainer
