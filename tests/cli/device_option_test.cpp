// The `device:` key of the train, dtm and merge configs and the --device option, end to end: an explicit cpu run
// is bit-identical to the default one, cuda on this CUDA-less machine is a clear error naming the key or option, a
// misspelt name is an error naming the file and line, the command line overrides the merge config, and DTM hands
// its device to the training runs. (The device names themselves: tests/model/device_test.cpp.)
#include <gtest/gtest.h>

#include <torch/cuda.h>

#include <filesystem>
#include <fstream>

#include "lib/config/key_reference.h"
#include "lib/config/schema.h"
#include "lib/model/causal_lm_factory.h"
#include "pipelines/dtm/dtm_config.h"
#include "pipelines/evolve/evolve_config.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle {
namespace {

namespace fs = std::filesystem;
using testing::contains;

constexpr const char* kNoCuda = "cuda: this libtorch has no CUDA (torch::cuda::is_available() is false)";

class DeviceOptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (torch::cuda::is_available()) GTEST_SKIP() << "these cases are for a machine without CUDA";
    dir_ = testing::make_temp_dir("device-option");
    trainer::testing::write_jsonl(dir_ / "train.jsonl", trainer::testing::tiny_records(12));
    std::ofstream(dir_ / "train.yml") << "max_steps: 2\nbatch_size: 4\nthreads: 1\n"
                                         "model: {config: "
                                      << trainer::testing::tiny_llama_json().dump()
                                      << "}\ntokenizer: {type: byte}\ndata: {train: train.jsonl}\n"
                                         "evaluation: {at_end: false}\n";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  testing::CommandResult train(const std::string& output, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"-q", "train", "--config", (dir_ / "train.yml").string(), "--set",
                                     "output_dir=" + (dir_ / output).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_ladle(args);
  }

  fs::path dir_;
};

TEST_F(DeviceOptionTest, AnExplicitCpuTrainingRunIsBitIdenticalToTheDefault) {
  const auto by_default = train("default");
  ASSERT_EQ(by_default.exit_code, 0) << by_default.err;
  const auto on_cpu = train("cpu", {"--set", "device=cpu"});
  ASSERT_EQ(on_cpu.exit_code, 0) << on_cpu.err;
  const auto on_auto = train("auto", {"--set", "device=auto"});  // no CUDA here: auto is the CPU
  ASSERT_EQ(on_auto.exit_code, 0) << on_auto.err;
  const std::string weights = testing::read_text_file(dir_ / "default" / "final" / "model.safetensors");
  ASSERT_FALSE(weights.empty());
  EXPECT_EQ(testing::read_text_file(dir_ / "cpu" / "final" / "model.safetensors"), weights);
  EXPECT_EQ(testing::read_text_file(dir_ / "auto" / "final" / "model.safetensors"), weights);
}

TEST_F(DeviceOptionTest, TrainingOnCudaWithoutCudaIsAnErrorNamingTheKey) {
  const auto result = train("cuda", {"--set", "device=cuda"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, std::string("device: ") + kNoCuda)) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "cuda" / "final"));
}

TEST_F(DeviceOptionTest, AMisspeltDeviceNamesTheFileLineAndKey) {
  std::ofstream(dir_ / "train.yml", std::ios::app) << "device: gpu\n";
  const auto result = train("gpu");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_TRUE(contains(result.err, "train.yml:8: device: expected cpu, cuda, cuda:N or auto, got 'gpu'")) << result.err;
}

TEST_F(DeviceOptionTest, MergeDeviceComesFromTheConfigUnlessTheCommandLineGivesOne) {
  const std::string kTwoModels = "merge_method: linear\nmodels:\n  - model: a\n  - model: b\nparameters: {weight: 1}\n";
  testing::RandomLlamaOptions options;
  testing::write_random_llama(dir_ / "a", options);
  options.seed = 2;
  testing::write_random_llama(dir_ / "b", options);
  testing::write_text_file(dir_ / "merge.yml", kTwoModels + "device: cuda\n");
  const std::string config = (dir_ / "merge.yml").string();
  const auto from_config = testing::run_ladle({"-q", "merge", config, (dir_ / "out1").string()});
  EXPECT_NE(from_config.exit_code, 0);
  EXPECT_TRUE(contains(from_config.err, std::string("device: ") + kNoCuda)) << from_config.err;
  const auto overridden = testing::run_ladle({"-q", "merge", config, (dir_ / "out2").string(), "--device", "cpu"});
  EXPECT_EQ(overridden.exit_code, 0) << overridden.err;
  const auto on_cuda = testing::run_ladle({"-q", "merge", config, (dir_ / "out3").string(), "--device", "cuda:0"});
  EXPECT_NE(on_cuda.exit_code, 0);
  EXPECT_TRUE(contains(on_cuda.err, "--device: cuda:0: this libtorch has no CUDA")) << on_cuda.err;

  testing::write_text_file(dir_ / "merge.yml", kTwoModels + "device: tpu\n");
  const auto misspelt = testing::run_ladle({"-q", "merge", config, (dir_ / "out4").string()});
  EXPECT_NE(misspelt.exit_code, 0);
  EXPECT_TRUE(contains(misspelt.err, "merge.yml:6: device: expected cpu, cuda, cuda:N or auto, got 'tpu'"))
      << misspelt.err;
}

TEST_F(DeviceOptionTest, CommandsWithoutAConfigCheckTheirDeviceOption) {
  testing::write_random_llama(dir_ / "a");
  for (const char* command : {"soup", "wise-ft", "cluster", "evaluate"}) {
    const auto result = testing::run_ladle({command, "--device", "gpu", "--help"});
    EXPECT_NE(result.exit_code, 0) << command;
    EXPECT_TRUE(contains(result.err, "expected cpu, cuda, cuda:N or auto, got 'gpu'")) << command << ": " << result.err;
  }
  const auto soup = testing::run_ladle({"-q", "soup", (dir_ / "soup").string(), (dir_ / "a").string(),
                                        (dir_ / "a").string(), "--greedy", "--valid",
                                        (dir_ / "train.jsonl").string(), "--tokenizer", "byte", "--device", "cuda"});
  EXPECT_NE(soup.exit_code, 0);
  EXPECT_TRUE(contains(soup.err, std::string("--device: ") + kNoCuda)) << soup.err;
}

TEST_F(DeviceOptionTest, DtmHandsItsDeviceToTheTrainingRuns) {
  model::save_causal_lm(*trainer::testing::tiny_model(), dir_ / "base");
  const std::string dtm = "output_dir: out\ndevice: auto\n"
                          "train: {model: {path: base}, tokenizer: {type: byte}, data: {train: train.jsonl}, "
                          "device: cpu}\nevaluation: {valid: train.jsonl}\n";
  const auto config = dtm::DtmConfig::from_yaml(dtm, "dtm.yml", dir_);
  EXPECT_EQ(config.device, "auto");
  EXPECT_EQ(config.train_config().device, "auto");
  const auto message = testing::error_message(
      [&] { dtm::DtmConfig::from_yaml(dtm, "dtm.yml", dir_, {"device=cuda"}); });
  EXPECT_TRUE(contains(message, kNoCuda)) << message;
}

TEST(DeviceKeys, EveryConfigDeclaresTheDeviceKeyWithTheCpuDefault) {
  const auto has_cpu_device = [](const std::vector<config::KeyReference>& keys) {
    for (const auto& key : keys) {
      if (key.key == "device") return key.default_value == "cpu";
    }
    return false;
  };
  EXPECT_TRUE(has_cpu_device(trainer::train_config_schema().reference()));
  EXPECT_TRUE(has_cpu_device(dtm::dtm_config_schema().reference()));
  EXPECT_TRUE(has_cpu_device(evolve::evolve_config_schema().reference()));
}

}  // namespace
}  // namespace ladle
