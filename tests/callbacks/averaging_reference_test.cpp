// EmaAverage and SwaAverage against Python's torch.optim.swa_utils.AveragedModel (tests/tools/
// averaging_swa_ema_reference.py) over 1000 updates of a small two-layer model.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "callbacks/ema_average.h"
#include "callbacks/swa_average.h"
#include "tests/support/command_runner.h"

namespace ladle::callbacks {
namespace {

constexpr std::int64_t kIn = 40, kHidden = 50, kOut = 20, kSteps = 1000;
// EMA: decay capped at 0.98 (reached after ~350 updates), warmup γ = 1, p = 2/3, min_decay 0.5 (binding at t = 1).
constexpr double kDecay = 0.98, kGamma = 1.0, kPower = 2.0 / 3.0, kMinDecay = 0.5;

struct TwoLayerImpl : torch::nn::Module {
  TwoLayerImpl()
      : fc1(register_module("fc1", torch::nn::Linear(kIn, kHidden))),
        fc2(register_module("fc2", torch::nn::Linear(kHidden, kOut))) {}
  torch::nn::Linear fc1;
  torch::nn::Linear fc2;
};
TORCH_MODULE(TwoLayer);

// Step k's flat parameter vector, as the Python reference builds it.
void set_step_values(const FlatParameters& live, std::int64_t k) {
  const at::Tensor& values = live.groups().at(0).values;
  float* data = values.data_ptr<float>();
  const float drift = static_cast<float>(k) / 4096.0f;
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    data[i] = static_cast<float>((i * 7919 + k * 104729) % 20011 - 10005) / 997.0f + drift;
  }
}

at::Tensor read_f32(const std::string& path, std::int64_t numel) {
  at::Tensor result = at::empty({numel}, at::kFloat);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(result.data_ptr<float>()), numel * static_cast<std::int64_t>(sizeof(float)));
  if (!in) throw std::runtime_error("could not read " + std::to_string(numel) + " floats from " + path);
  return result;
}

std::string exact(double value) {
  std::ostringstream text;
  text << std::setprecision(17) << value;
  return text.str();
}

// One Python run for the suite; the C++ averages follow the same model through the same 1000 steps.
class AveragedModelReference : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(ladle::testing::make_temp_dir("averaging-reference"));
    const auto result = ladle::testing::run_command(
        ladle::testing::python_program(),
        {std::string(LADLE_SOURCE_DIR) + "/tests/tools/averaging_swa_ema_reference.py", *dir_, std::to_string(kIn),
         std::to_string(kHidden), std::to_string(kOut), std::to_string(kSteps), exact(kDecay), "1", exact(kGamma),
         exact(kPower), exact(kMinDecay)});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    TwoLayer model;
    FlatParameters live(*model);
    EmaOptions ema_options;
    ema_options.decay = kDecay;
    ema_options.warmup = true;
    ema_options.warmup_gamma = kGamma;
    ema_options.warmup_power = kPower;
    ema_options.min_decay = kMinDecay;
    EmaAverage ema(live, {}, ema_options);
    SwaAverage swa(live, {});
    for (std::int64_t k = 0; k < kSteps; ++k) {
      set_step_values(live, k);
      ASSERT_TRUE(ema.on_optimizer_step(k + 1));
      ASSERT_TRUE(swa.on_optimizer_step(k + 1));
    }
    ema_ = new at::Tensor(ema.averaged_flat_values().at(0).clone());
    swa_ = new at::Tensor(swa.averaged_flat_values().at(0).clone());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete ema_;
    delete swa_;
  }
  static at::Tensor reference(const std::string& name) { return read_f32(*dir_ + "/" + name + ".f32", ema_->numel()); }

  static std::string* dir_;
  static at::Tensor* ema_;
  static at::Tensor* swa_;
};
std::string* AveragedModelReference::dir_ = nullptr;
at::Tensor* AveragedModelReference::ema_ = nullptr;
at::Tensor* AveragedModelReference::swa_ = nullptr;

TEST_F(AveragedModelReference, EmaWithWarmupEqualsAveragedModelWithEmaAvgFn) {
  ASSERT_NE(ema_, nullptr);
  EXPECT_EQ(ema_->numel(), kIn * kHidden + kHidden + kHidden * kOut + kOut);
  const double difference = (*ema_ - reference("ema")).abs().max().item<double>();
  EXPECT_LE(difference, 1e-6);
  EXPECT_EQ(difference, 0.0);  // in fact bit-identical: the kernels round as torch's separate operations do
}

TEST_F(AveragedModelReference, SwaEqualsAveragedModelWithDefaultAvgFn) {
  ASSERT_NE(swa_, nullptr);
  const double difference = (*swa_ - reference("swa")).abs().max().item<double>();
  EXPECT_LE(difference, 1e-6);
  EXPECT_EQ(difference, 0.0);  // in fact bit-identical: the kernels round as torch's separate operations do
}

}  // namespace
}  // namespace ladle::callbacks
