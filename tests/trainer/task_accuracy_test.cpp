// The one accuracy per task the reports show: choice accuracy where a task has candidates, else exact match.
#include <gtest/gtest.h>

#include "trainer/task_accuracy.h"

namespace ladle::trainer {
namespace {

TEST(TaskAccuracy, ChoiceAccuracyWinsOverExactMatch) {
  const Metrics metrics = {{"test/choice_accuracy/spam", 0.75}, {"test/exact_match/spam", 0.5}};
  const auto accuracy = task_accuracy(metrics, "test", "spam");
  ASSERT_TRUE(accuracy);
  EXPECT_EQ(accuracy->kind, "choice_accuracy");
  EXPECT_EQ(accuracy->value, 0.75);
}

TEST(TaskAccuracy, ExactMatchWithoutCandidates) {
  const Metrics metrics = {{"test/exact_match/arithmetic", 0.25}, {"valid/choice_accuracy/arithmetic", 1.0}};
  const auto accuracy = task_accuracy(metrics, "test", "arithmetic");
  ASSERT_TRUE(accuracy);
  EXPECT_EQ(accuracy->kind, "exact_match");
  EXPECT_EQ(accuracy->value, 0.25);
}

TEST(TaskAccuracy, NoneWhenNeitherWasMeasured) {
  const Metrics metrics = {{"test/loss/capital", 2.0}, {"test/exact_match/element", 0.5}};
  EXPECT_FALSE(task_accuracy(metrics, "test", "capital"));
}

}  // namespace
}  // namespace ladle::trainer
