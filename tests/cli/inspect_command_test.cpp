// `ladle inspect` on what users hand it: sharded folders written by ladle, files from another writer, and
// files that are not valid.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "lib/io/checkpoint_writer.h"
#include "tests/support/command_runner.h"

namespace ladle {
namespace {

using testing::run_ladle;

class InspectCommand : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::make_temp_dir("inspect"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(InspectCommand, ReportsEveryTensorOfAShardedFolder) {
  NamedTensors tensors;
  tensors.insert("model.embed_tokens.weight", at::zeros({100, 16}));          // 6400 bytes
  tensors.insert("model.layers.0.mlp.up_proj.weight", at::zeros({32, 16}));   // 2048 bytes
  tensors.insert("model.norm.weight", at::zeros({16}, at::kBFloat16));          // 32 bytes
  io::CheckpointWriteOptions options;
  options.max_shard_bytes = 4096;  // forces the embedding into a shard of its own
  const auto folder = dir_ + "/model";
  io::save_checkpoint(folder, tensors, nlohmann::json{{"architectures", {"LlamaForCausalLM"}}}, options);

  auto result = run_ladle({"inspect", folder, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["tensors"].size(), 3u);
  EXPECT_EQ(report["shards"], 2);
  EXPECT_EQ(report["parameters"], 100 * 16 + 32 * 16 + 16);
  EXPECT_EQ(report["bytes"], 6400 + 2048 + 32);
  EXPECT_EQ(report["parameters_per_dtype"]["BF16"], 16);
  EXPECT_TRUE(report["valid"].get<bool>());

  auto text = run_ladle({"inspect", folder});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("model.layers.0.mlp.up_proj.weight"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("[32, 16]"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("LlamaForCausalLM"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("valid: yes"), std::string::npos) << text.out;
}

TEST_F(InspectCommand, ReadsAFileFromAnIndependentWriter) {
  const auto spec_path = dir_ + "/spec.json";
  std::ofstream(spec_path) << R"({"metadata": {"source": "python"}, "tensors": [
      {"name": "a", "dtype": "F16", "shape": [2, 3], "values": "arange", "start": 0, "step": 1},
      {"name": "b", "dtype": "I64", "shape": [4], "values": "arange", "start": -2, "step": 1},
      {"name": "c", "dtype": "F8_E4M3", "shape": [5], "values": "arange", "start": 0, "step": 1}]})";
  const auto file = dir_ + "/independent.safetensors";
  auto written = testing::run_command(testing::python_program(),
                                      {LADLE_SOURCE_DIR "/tests/tools/write_safetensors.py", "write", spec_path, file});
  ASSERT_EQ(written.exit_code, 0) << written.err;

  auto result = run_ladle({"inspect", file, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto report = nlohmann::json::parse(result.out);
  ASSERT_EQ(report["tensors"].size(), 3u);
  EXPECT_EQ(report["parameters"], 6 + 4 + 5);
  EXPECT_EQ(report["bytes"], 12 + 32 + 5);
  EXPECT_EQ(report["parameters_per_dtype"]["F8_E4M3"], 5);
}

TEST_F(InspectCommand, InvalidFileIsOneErrorLineNamingIt) {
  const auto file = dir_ + "/broken.safetensors";
  std::ofstream(file, std::ios::binary) << std::string("\xff\xff\xff\xff\x00\x00\x00\x00{}", 10);
  auto result = run_ladle({"inspect", file});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err.rfind("ladle: error: ", 0), 0u) << result.err;
  EXPECT_NE(result.err.find("broken.safetensors"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
}

}  // namespace
}  // namespace ladle
