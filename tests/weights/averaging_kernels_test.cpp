// ema_update_ and running_mean_update_: closed forms, the ATen formulas on large buffers, and a reference run of
// Python's torch.optim.swa_utils.AveragedModel.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

#include "lib/util/error.h"
#include "lib/weights/tensor_ops.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle {
namespace {

using ladle::testing::floats;

// Sets the intra-op thread count for one test and restores it afterwards.
class ThreadCount {
 public:
  explicit ThreadCount(int threads) : previous_(at::get_num_threads()) { at::set_num_threads(threads); }
  ~ThreadCount() { at::set_num_threads(previous_); }

 private:
  int previous_;
};

TEST(EmaUpdate, MatchesClosedFormOnSmallVector) {
  at::Tensor average = floats({1, 2, 3, 4, -8});
  ema_update_(average, floats({5, 6, 7, 8, 0}), 0.75);
  // 0.75·a + 0.25·l, every term exact in fp32.
  EXPECT_TRUE(at::equal(average, floats({2, 3, 4, 5, -6})));
}

TEST(EmaUpdate, DecayOneKeepsAverageAndDecayZeroTakesLive) {
  at::Tensor kept = floats({1.5f, -2.25f});
  ema_update_(kept, floats({100, 200}), 1.0);
  EXPECT_TRUE(at::equal(kept, floats({1.5f, -2.25f})));
  at::Tensor replaced = floats({1.5f, -2.25f});
  ema_update_(replaced, floats({100, 200}), 0.0);
  EXPECT_TRUE(at::equal(replaced, floats({100, 200})));
}

TEST(EmaUpdate, Fp64AverageMatchesClosedForm) {
  at::Tensor average = at::tensor(std::vector<double>{1.0, 3.0}, at::kDouble);
  ema_update_(average, at::tensor(std::vector<double>{2.0, 5.0}, at::kDouble), 0.9);
  EXPECT_NEAR(average[0].item<double>(), 0.9 * 1.0 + 0.1 * 2.0, 1e-15);
  EXPECT_NEAR(average[1].item<double>(), 0.9 * 3.0 + 0.1 * 5.0, 1e-15);
}

TEST(EmaUpdate, NonContiguousAverageUsesAtenPathWithSameResult) {
  at::Tensor storage = floats({1, 0, 2, 0, 3, 0, 4, 0});
  at::Tensor average = storage.slice(0, 0, 8, 2);  // every other element: not contiguous
  ema_update_(average, floats({5, 6, 7, 8}), 0.5);
  EXPECT_TRUE(at::equal(average, floats({3, 4, 5, 6})));
  EXPECT_TRUE(at::equal(storage.slice(0, 1, 8, 2), floats({0, 0, 0, 0})));
}

TEST(EmaUpdate, Fp16AverageUsesAtenPathWithSameResult) {
  at::Tensor average = floats({1, 2, 3, 4}).to(at::kHalf);
  ema_update_(average, floats({5, 6, 7, 8}), 0.5);
  EXPECT_EQ(average.scalar_type(), at::kHalf);
  EXPECT_TRUE(at::equal(average.to(at::kFloat), floats({3, 4, 5, 6})));
}

// In a bf16 average, 1 + 1e-4 rounds back to 1 (bf16 spacing at 1 is 2^-7), so it would never move; the fp32
// average follows the closed form avg_k = live + (avg_0 − live)·decay^k.
TEST(EmaUpdate, Bf16LiveMovesFp32AverageWithDecay09999) {
  at::Tensor average = at::ones({1000}, at::kFloat);
  const at::Tensor live = at::full({1000}, 2.0, at::kBFloat16);
  constexpr int kSteps = 1000;
  for (int step = 0; step < kSteps; ++step) ema_update_(average, live, 0.9999);
  const double expected = 2.0 - std::pow(0.9999, kSteps);
  EXPECT_NEAR(average.min().item<double>(), expected, 1e-4);
  EXPECT_NEAR(average.max().item<double>(), expected, 1e-4);
  EXPECT_GT(average.min().item<double>(), 1.09);
}

TEST(EmaUpdate, MetaDeviceTensorsStayOnTheirDevice) {
  at::Tensor average = at::empty({3}, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
  ema_update_(average, at::empty({3}, at::TensorOptions().dtype(at::kFloat).device(at::kMeta)), 0.5);
  EXPECT_EQ(average.device().type(), at::kMeta);
}

TEST(EmaUpdate, RejectsShapeMismatchNamingBothShapes) {
  at::Tensor average = at::zeros({2, 3});
  try {
    ema_update_(average, at::zeros({3, 2}), 0.5);
    FAIL() << "expected ladle::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("[3, 2]"), std::string::npos) << message;
    EXPECT_NE(message.find("[2, 3]"), std::string::npos) << message;
  }
}

TEST(EmaUpdate, RejectsDecayOutsideUnitInterval) {
  at::Tensor average = at::zeros({2});
  EXPECT_THROW(ema_update_(average, at::zeros({2}), 1.5), Error);
  EXPECT_THROW(ema_update_(average, at::zeros({2}), -0.1), Error);
}

TEST(RunningMeanUpdate, MatchesClosedFormOnSmallVector) {
  at::Tensor average = floats({1, 2, 3});
  running_mean_update_(average, floats({4, 8, 9}), 2);
  // a + (l − a)/3 with exact terms.
  EXPECT_TRUE(at::equal(average, floats({2, 4, 5})));
}

TEST(RunningMeanUpdate, CountZeroCopiesLiveEvenOverNaN) {
  at::Tensor average = at::full({4}, std::numeric_limits<float>::quiet_NaN());
  const at::Tensor live = floats({0.1f, -3.3f, 7.7f, 1e-30f});
  running_mean_update_(average, live, 0);
  EXPECT_TRUE(at::equal(average, live));
}

TEST(RunningMeanUpdate, SequenceOfUpdatesIsTheArithmeticMean) {
  at::Tensor average = at::zeros({2});
  const std::vector<std::vector<float>> sequence = {{1, 10}, {2, 20}, {3, 30}, {6, 60}};
  for (std::size_t k = 0; k < sequence.size(); ++k) {
    running_mean_update_(average, floats(sequence[k]), static_cast<std::int64_t>(k));
  }
  EXPECT_TRUE(at::equal(average, floats({3, 30})));
}

TEST(RunningMeanUpdate, Bf16LiveIntoFp32Average) {
  at::Tensor average = floats({1, 1});
  running_mean_update_(average, floats({1.5f, 3.0f}).to(at::kBFloat16), 1);
  EXPECT_TRUE(at::equal(average, floats({1.25f, 2.0f})));
}

TEST(RunningMeanUpdate, RejectsNegativeCount) {
  at::Tensor average = at::zeros({2});
  EXPECT_THROW(running_mean_update_(average, at::zeros({2}), -1), Error);
}

// 10M + 3 elements (not a multiple of any vector width) on two threads, against the ATen expressions that
// torch.optim.swa_utils evaluates; equal bit for bit.
class LargeBuffer : public ::testing::Test {
 protected:
  static constexpr std::int64_t kNumel = 10'000'003;
  void SetUp() override {
    at::manual_seed(7);
    average_ = at::randn({kNumel});
    live_ = at::randn({kNumel});
  }
  at::Tensor average_;
  at::Tensor live_;
};

TEST_F(LargeBuffer, EmaEqualsAtenFormulaOnTwoThreads) {
  ThreadCount threads(2);
  const double decay = 0.999;
  const at::Tensor expected = at::add(at::mul(average_, decay), at::mul(live_, 1.0 - decay));
  ema_update_(average_, live_, decay);
  EXPECT_TRUE(at::equal(average_, expected));
}

TEST_F(LargeBuffer, RunningMeanEqualsAtenFormulaOnTwoThreads) {
  ThreadCount threads(2);
  const std::int64_t count_before = 41;
  const at::Tensor expected = at::add(average_, at::div(at::sub(live_, average_), count_before + 1));
  running_mean_update_(average_, live_, count_before);
  EXPECT_TRUE(at::equal(average_, expected));
}

TEST_F(LargeBuffer, Bf16LiveEmaEqualsAtenFormulaOnWidenedLive) {
  ThreadCount threads(2);
  const at::Tensor live_bf16 = live_.to(at::kBFloat16);
  const double decay = 0.9999;
  const at::Tensor expected = at::add(at::mul(average_, decay), at::mul(live_bf16.to(at::kFloat), 1.0 - decay));
  ema_update_(average_, live_bf16, decay);
  EXPECT_TRUE(at::equal(average_, expected));
}

// Several averages folded in one pass (the kernel of several EMAs, EmaAverage::update_together) against the ATen
// expression for each, on two threads, fp32 and bf16 live: equal bit for bit.
TEST_F(LargeBuffer, SeveralEmasInOnePassEqualAtenFormulaForEach) {
  ThreadCount threads(2);
  const std::vector<double> decays = {0.9, 0.999, 0.9999};
  for (const at::Tensor& live : {live_, live_.to(at::kBFloat16)}) {
    std::vector<at::Tensor> averages, expected;
    for (std::size_t k = 0; k < decays.size(); ++k) {
      averages.push_back(average_ + static_cast<double>(k));
      expected.push_back(at::add(at::mul(averages.back(), decays[k]), at::mul(live.to(at::kFloat), 1.0 - decays[k])));
    }
    ema_update_together_(averages, live, decays);
    for (std::size_t k = 0; k < decays.size(); ++k) EXPECT_TRUE(at::equal(averages[k], expected[k])) << "average " << k;
  }
}

TEST(EmaUpdateTogether, AverageOutsideTheFastPathIsUpdatedAsAlone) {
  const at::Tensor live = floats({1.0f, 2.0f, 3.0f});
  std::vector<at::Tensor> averages = {floats({0.0f, 0.0f, 0.0f}), floats({0.0f, 0.0f, 0.0f}).to(at::kDouble)};
  ema_update_together_(averages, live, {0.5, 0.75});
  EXPECT_TRUE(at::allclose(averages[0], floats({0.5f, 1.0f, 1.5f})));
  EXPECT_TRUE(at::allclose(averages[1], floats({0.25f, 0.5f, 0.75f}).to(at::kDouble)));
}

TEST(EmaUpdateTogether, RejectsMismatchedCountsAndDecays) {
  const at::Tensor live = floats({1.0f, 2.0f});
  std::vector<at::Tensor> averages = {floats({0.0f, 0.0f}), floats({0.0f, 0.0f})};
  EXPECT_THROW(ema_update_together_(averages, live, {0.5}), Error);
  EXPECT_THROW(ema_update_together_(averages, live, {0.5, 1.5}), Error);
  std::vector<at::Tensor> wrong_shape = {floats({0.0f, 0.0f}), floats({0.0f, 0.0f, 0.0f})};
  EXPECT_THROW(ema_update_together_(wrong_shape, live, {0.5, 0.5}), Error);
}

// Step k's parameter vector, as tests/tools/weights_swa_reference.py builds it.
at::Tensor step_vector(std::int64_t numel, std::int64_t k) {
  at::Tensor vector = at::empty({numel}, at::kFloat);
  float* data = vector.data_ptr<float>();
  for (std::int64_t i = 0; i < numel; ++i) {
    data[i] = static_cast<float>((i * 7919 + k * 104729) % 20011 - 10005) / 997.0f;
  }
  return vector;
}

at::Tensor read_f32(const std::string& path, std::int64_t numel) {
  at::Tensor result = at::empty({numel}, at::kFloat);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(result.data_ptr<float>()), numel * static_cast<std::int64_t>(sizeof(float)));
  if (!in) throw std::runtime_error("could not read " + std::to_string(numel) + " floats from " + path);
  return result;
}

// One run of the Python reference for the whole suite (starting Python with torch takes a few seconds).
class SwaUtilsReference : public ::testing::Test {
 protected:
  static constexpr std::int64_t kNumel = 4099;
  static constexpr std::int64_t kSteps = 1000;
  static constexpr double kDecay = 0.99;

  static void SetUpTestSuite() {
    const std::string dir = testing::make_temp_dir("swa-reference");
    const auto result = testing::run_command(
        testing::python_program(), {std::string(LADLE_SOURCE_DIR) + "/tests/tools/weights_swa_reference.py", dir,
                                    std::to_string(kNumel), std::to_string(kSteps), std::to_string(kDecay)});
    if (result.exit_code == 0) {
      swa_ = new at::Tensor(read_f32(dir + "/swa.f32", kNumel));
      ema_ = new at::Tensor(read_f32(dir + "/ema.f32", kNumel));
    } else {
      failure_ =
          new std::string("reference script exited with " + std::to_string(result.exit_code) + ": " + result.err);
    }
    std::filesystem::remove_all(dir);
  }
  static void TearDownTestSuite() {
    delete swa_;
    delete ema_;
    delete failure_;
    swa_ = ema_ = nullptr;
    failure_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(failure_, nullptr) << *failure_; }

  static at::Tensor* swa_;
  static at::Tensor* ema_;
  static std::string* failure_;
};
at::Tensor* SwaUtilsReference::swa_ = nullptr;
at::Tensor* SwaUtilsReference::ema_ = nullptr;
std::string* SwaUtilsReference::failure_ = nullptr;

TEST_F(SwaUtilsReference, RunningMeanMatchesAveragedModelDefaultOver1000Steps) {
  at::Tensor average = at::empty({kNumel});
  for (std::int64_t k = 0; k < kSteps; ++k) running_mean_update_(average, step_vector(kNumel, k), k);
  const double max_abs_diff = (average - *swa_).abs().max().item<double>();
  EXPECT_LE(max_abs_diff, 1e-6);
  // tensor_ops.h promises torch's fp32 rounding operation for operation, hence equality.
  EXPECT_TRUE(at::equal(average, *swa_)) << "max abs diff " << max_abs_diff;
}

TEST_F(SwaUtilsReference, EmaMatchesAveragedModelEmaAvgFnOver1000Steps) {
  // AveragedModel copies the first vector, then applies avg_fn.
  at::Tensor average = step_vector(kNumel, 0);
  for (std::int64_t k = 1; k < kSteps; ++k) ema_update_(average, step_vector(kNumel, k), kDecay);
  const double max_abs_diff = (average - *ema_).abs().max().item<double>();
  EXPECT_LE(max_abs_diff, 1e-6);
  // tensor_ops.h promises torch's fp32 rounding operation for operation, hence equality.
  EXPECT_TRUE(at::equal(average, *ema_)) << "max abs diff " << max_abs_diff;
}

}  // namespace
}  // namespace ladle
