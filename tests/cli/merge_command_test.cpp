// `ladle merge` and `ladle merge check` end to end: random Llama-style folders in, a merged folder out, checked
// against formulas computed here from the inputs' tensors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/merge/merge_method_registry.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/tiny_tokenizer.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::RandomLlamaOptions;
using ladle::testing::run_ladle;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class MergeCliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("merge-cli"); }
  void TearDown() override { fs::remove_all(dir_); }

  NamedTensors model(const std::string& name, RandomLlamaOptions options) {
    return ladle::testing::write_random_llama(dir_ / name, options);
  }
  NamedTensors model(const std::string& name, std::uint64_t seed, std::int64_t layers = RandomLlamaOptions{}.layers) {
    RandomLlamaOptions options;
    options.seed = seed;
    options.layers = layers;
    return model(name, options);
  }
  fs::path config(const std::string& yaml) { return ladle::testing::write_text_file(dir_ / "merge.yml", yaml); }
  // Runs `ladle --quiet merge merge.yml out [extra...]`.
  CommandResult merge(const std::string& yaml, std::vector<std::string> extra = {}, const std::string& out = "out") {
    std::vector<std::string> args = {"--quiet", "merge", config(yaml).string(), (dir_ / out).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_ladle(args);
  }
  // A merge that must fail: returns what it said (the report on stdout, the error line on stderr) after checking
  // that nothing was left behind.
  std::string failed_merge(const std::string& yaml) {
    const CommandResult result = merge(yaml);
    EXPECT_NE(result.exit_code, 0) << result.out;
    EXPECT_FALSE(fs::exists(dir_ / "out")) << "a failed merge left its output folder";
    for (const auto& entry : fs::directory_iterator(dir_)) {
      EXPECT_EQ(entry.path().filename().string().find("out.partial"), std::string::npos) << entry.path();
    }
    // The one error line names the first problem; the check's report of all of them is on stdout.
    EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
    return result.out + result.err;
  }
  at::Tensor output(const std::string& name, const std::string& out = "out") {
    return io::CheckpointReader(dir_ / out).tensor(name);
  }

  fs::path dir_;
};

TEST_F(MergeCliTest, LinearWeightsGiveTheWeightedAverage) {
  const NamedTensors a = model("a", 1);
  const NamedTensors b = model("b", 2);
  const CommandResult result = merge(
      "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.3}\n"
      "  - model: b\n    parameters: {weight: 0.7}\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const io::CheckpointReader merged(dir_ / "out");
  EXPECT_EQ(merged.names().size(), a.size());
  for (const auto& [name, tensor] : a) {
    const at::Tensor expected = (0.3 * tensor + 0.7 * b.at(name)) / (0.3 + 0.7);
    EXPECT_TRUE(at::allclose(merged.tensor(name), expected, 1e-6, 1e-6)) << name;
  }
}

TEST_F(MergeCliTest, LayerGradientGivesInterpolatedPerLayerWeights) {
  const NamedTensors a = model("a", 1, 4);
  const NamedTensors b = model("b", 2, 4);
  // weight of a goes 1 -> 0 and of b 0 -> 1 over the 4 layers: layer i is (1 − t)·a + t·b with t = i/3.
  ASSERT_EQ(merge("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: [1, 0]}\n"
                  "  - model: b\n    parameters: {weight: [0, 1]}\n")
                .exit_code,
            0);
  for (int layer = 0; layer < 4; ++layer) {
    const std::string name = "model.layers." + std::to_string(layer) + ".self_attn.o_proj.weight";
    const double t = layer / 3.0;
    const at::Tensor expected = (1 - t) * a.at(name) + t * b.at(name);
    EXPECT_TRUE(at::allclose(output(name), expected, 1e-6, 1e-6)) << name;
  }
}

// Spherical interpolation from a to b at t, as mergekit's slerp (mergekit/merge_methods/slerp.py), in fp64.
at::Tensor slerp_reference(double t, const at::Tensor& a, const at::Tensor& b) {
  const at::Tensor v0 = a.to(at::kDouble);
  const at::Tensor v1 = b.to(at::kDouble);
  const double dot = ((v0 / v0.norm()) * (v1 / v1.norm())).sum().item<double>();
  if (std::abs(dot) > 0.9995) return (1 - t) * v0 + t * v1;
  const double theta = std::acos(dot);
  return std::sin(theta - theta * t) / std::sin(theta) * v0 + std::sin(theta * t) / std::sin(theta) * v1;
}

TEST_F(MergeCliTest, SlerpGradientOfTIsInterpolatedPerLayer) {
  const NamedTensors a = model("a", 1, 4);
  const NamedTensors b = model("b", 2, 4);
  // t: [0, 1] over 4 layers is t = 0, 1/3, 2/3, 1; embeddings are merged at t = 0, lm_head at t = 1.
  ASSERT_EQ(merge("merge_method: slerp\nbase_model: a\nmodels: [{model: a}, {model: b}]\nparameters: {t: [0, 1]}\n")
                .exit_code,
            0);
  for (int layer = 0; layer < 4; ++layer) {
    const std::string name = "model.layers." + std::to_string(layer) + ".mlp.gate_proj.weight";
    const at::Tensor expected = slerp_reference(layer / 3.0, a.at(name), b.at(name)).to(at::kFloat);
    EXPECT_TRUE(at::allclose(output(name), expected, 1e-5, 1e-5)) << name;
  }
  EXPECT_TRUE(at::allclose(output("model.embed_tokens.weight"), a.at("model.embed_tokens.weight"), 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(output("lm_head.weight"), b.at("lm_head.weight"), 1e-6, 1e-6));
}

TEST_F(MergeCliTest, FilterAppliesToSelfAttentionOnly) {
  const NamedTensors a = model("a", 1);
  const NamedTensors b = model("b", 2);
  ASSERT_EQ(merge("merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n"
                  "  - model: b\n    parameters:\n      weight:\n        - filter: self_attn\n          value: 3\n"
                  "        - value: 1\n")
                .exit_code,
            0);
  const std::string attention = "model.layers.0.self_attn.k_proj.weight";
  const std::string mlp = "model.layers.0.mlp.up_proj.weight";
  EXPECT_TRUE(at::allclose(output(attention), (a.at(attention) + 3 * b.at(attention)) / 4, 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(output(mlp), (a.at(mlp) + b.at(mlp)) / 2, 1e-6, 1e-6));
}

TEST_F(MergeCliTest, SlicesWithLayerRangesBuildTheChosenLayers) {
  const NamedTensors a = model("a", 1, 3);
  const NamedTensors b = model("b", 2, 3);
  ASSERT_EQ(merge("merge_method: linear\nparameters: {weight: 1}\nslices:\n"
                  "  - sources:\n      - {model: a, layer_range: [0, 2]}\n"
                  "  - sources:\n      - {model: b, layer_range: [1, 3]}\n")
                .exit_code,
            0);
  const io::CheckpointReader merged(dir_ / "out");
  EXPECT_EQ(merged.config()->at("num_hidden_layers"), 4);
  const std::vector<std::pair<const NamedTensors*, int>> sources = {{&a, 0}, {&a, 1}, {&b, 1}, {&b, 2}};
  for (int layer = 0; layer < 4; ++layer) {
    const std::string suffix = ".mlp.down_proj.weight";
    const at::Tensor expected =
        sources[layer].first->at("model.layers." + std::to_string(sources[layer].second) + suffix);
    EXPECT_TRUE(at::equal(merged.tensor("model.layers." + std::to_string(layer) + suffix), expected)) << layer;
  }
  EXPECT_TRUE(at::equal(merged.tensor("model.embed_tokens.weight"), a.at("model.embed_tokens.weight")));
  EXPECT_TRUE(at::equal(merged.tensor("lm_head.weight"), b.at("lm_head.weight")));
  EXPECT_FALSE(merged.contains("model.layers.4.mlp.down_proj.weight"));
}

// passthrough's scale is per model, as in mergekit: models[].parameters scales that model's tensors. Scales are powers
// of two, so the expected tensors are exact.
TEST_F(MergeCliTest, PassthroughScalesTheModelByItsOwnScale) {
  const NamedTensors a = model("a", 1);
  ASSERT_EQ(merge("merge_method: passthrough\nmodels:\n  - model: a\n    parameters: {scale: 0.5}\n").exit_code, 0);
  const io::CheckpointReader merged(dir_ / "out");
  EXPECT_EQ(merged.names().size(), a.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(at::equal(merged.tensor(name), 0.5 * tensor)) << name;
}

// The frankenmerge form: each slice source scales its own layers; embeddings follow the first slice's source and
// the final norm and lm_head the last slice's, each with that source's scale.
TEST_F(MergeCliTest, PassthroughScalesEachSliceSourceByItsOwnScale) {
  const NamedTensors a = model("a", 1, 3);
  const NamedTensors b = model("b", 2, 3);
  ASSERT_EQ(merge("merge_method: passthrough\nslices:\n"
                  "  - sources:\n      - {model: a, layer_range: [0, 2], parameters: {scale: 2}}\n"
                  "  - sources:\n      - {model: b, layer_range: [1, 3], parameters: {scale: -0.25}}\n")
                .exit_code,
            0);
  const io::CheckpointReader merged(dir_ / "out");
  const std::vector<std::tuple<const NamedTensors*, int, double>> sources = {
      {&a, 0, 2.0}, {&a, 1, 2.0}, {&b, 1, -0.25}, {&b, 2, -0.25}};
  for (int layer = 0; layer < 4; ++layer) {
    const auto& [input, source_layer, scale] = sources[layer];
    const std::string suffix = ".self_attn.v_proj.weight";
    const at::Tensor expected = scale * input->at("model.layers." + std::to_string(source_layer) + suffix);
    EXPECT_TRUE(at::equal(merged.tensor("model.layers." + std::to_string(layer) + suffix), expected)) << layer;
  }
  EXPECT_TRUE(at::equal(merged.tensor("model.embed_tokens.weight"), 2.0 * a.at("model.embed_tokens.weight")));
  EXPECT_TRUE(at::equal(merged.tensor("model.norm.weight"), -0.25 * b.at("model.norm.weight")));
  EXPECT_TRUE(at::equal(merged.tensor("lm_head.weight"), -0.25 * b.at("lm_head.weight")));
}

TEST_F(MergeCliTest, PassthroughOfTwoModelsFailsNamingTheTensor) {
  model("a", 1);
  model("b", 2);
  const std::string err = failed_merge("merge_method: passthrough\nmodels:\n  - model: a\n  - model: b\n");
  EXPECT_NE(err.find("passthrough: tensor '"), std::string::npos) << err;
  EXPECT_NE(err.find("expects exactly one input tensor, got 2"), std::string::npos) << err;
}

TEST_F(MergeCliTest, OutDtypeBfloat16StoresBfloat16) {
  const NamedTensors a = model("a", 1);
  model("b", 2);
  ASSERT_EQ(merge("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n"
                  "out_dtype: bfloat16\n")
                .exit_code,
            0);
  const io::CheckpointReader merged(dir_ / "out");
  for (const auto& name : merged.names()) EXPECT_EQ(merged.tensor(name).scalar_type(), at::kBFloat16) << name;
  EXPECT_EQ(merged.config()->at("torch_dtype"), "bfloat16");
}

TEST_F(MergeCliTest, OutShardSizeShardsTheOutput) {
  const NamedTensors a = model("a", 1);
  model("b", 2);
  // 2 layers of a 16-wide model hold about 17 KB of fp32 tensors: 4 KiB shards give several files.
  ASSERT_EQ(merge("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n",
                  {"--out-shard-size", "4K"})
                .exit_code,
            0);
  const io::CheckpointReader merged(dir_ / "out");
  EXPECT_GT(merged.shards().size(), 3u);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "model.safetensors.index.json"));
  for (const auto& shard : merged.shards()) {
    std::uint64_t bytes = 0;
    for (const auto& entry : shard->entries()) bytes += entry.nbytes();
    EXPECT_TRUE(bytes <= 4096 || shard->entries().size() == 1) << shard->path();
  }
  EXPECT_EQ(merged.names().size(), a.size());
}

TEST_F(MergeCliTest, TokenizerConfigAndMergeRecordAreWritten) {
  // The same tokens in another order: b's tokenizer.json is the output's, unchanged, and rows follow it.
  std::vector<std::string> reversed = ladle::testing::numbered_tokens(32);
  std::reverse(reversed.begin(), reversed.end());
  model("a", 1);
  model("b", 2);
  ladle::testing::write_text_file(dir_ / "a" / "tokenizer.json",
                                  ladle::testing::tiny_tokenizer_json(ladle::testing::numbered_tokens(32)));
  ladle::testing::write_text_file(dir_ / "b" / "tokenizer.json", ladle::testing::tiny_tokenizer_json(reversed));
  for (const char* name : {"a", "b"}) ladle::testing::write_text_file(dir_ / name / "special_tokens_map.json", "{}");
  const std::string yaml =
      "merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\ntokenizer_source: b\n";
  ASSERT_EQ(merge(yaml).exit_code, 0);
  const fs::path out = dir_ / "out";
  EXPECT_EQ(read_text(out / "tokenizer.json"), read_text(dir_ / "b" / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(out / "tokenizer_config.json"));
  EXPECT_TRUE(fs::exists(out / "special_tokens_map.json"));
  EXPECT_EQ(read_text(out / "mergekit_config.yml"), yaml);
  EXPECT_NE(read_text(out / "README.md").find("linear"), std::string::npos);
  const io::CheckpointReader merged(out);
  EXPECT_EQ(merged.config()->at("architectures")[0], "LlamaForCausalLM");
  EXPECT_EQ(merged.config()->at("hidden_size"), 16);
  // Output id 0 is b's token "t31", which is a's id 31.
  const at::Tensor a_rows = io::CheckpointReader(dir_ / "a").read_tensor("model.embed_tokens.weight");
  const at::Tensor b_rows = io::CheckpointReader(dir_ / "b").read_tensor("model.embed_tokens.weight");
  EXPECT_TRUE(at::allclose(merged.read_tensor("model.embed_tokens.weight")[0], (a_rows[31] + b_rows[0]) / 2));
}

TEST_F(MergeCliTest, TokenizerSourceFolderNeedsOnlyTokenizerFiles) {
  model("a", 1);
  fs::create_directories(dir_ / "tokenizer-only");
  const std::string tokenizer = ladle::testing::tiny_tokenizer_json(ladle::testing::numbered_tokens(32));
  ladle::testing::write_text_file(dir_ / "tokenizer-only" / "tokenizer.json", tokenizer);
  const std::string yaml =
      "merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\ntokenizer_source: tokenizer-only\n";
  ASSERT_EQ(merge(yaml).exit_code, 0);
  EXPECT_EQ(read_text(dir_ / "out" / "tokenizer.json"), tokenizer);
}

TEST_F(MergeCliTest, WithoutTokenizerSourceTheBaseTokenizerIsCopied) {
  RandomLlamaOptions options;
  options.tokenizer_tag = "tokenizer-of-base";
  model("base", options);
  options.tokenizer_tag = "tokenizer-of-a";
  model("a", options);
  ASSERT_EQ(merge("merge_method: linear\nbase_model: base\nmodels: [{model: a}, {model: base}]\n"
                  "parameters: {weight: 1}\n")
                .exit_code,
            0);
  EXPECT_NE(read_text(dir_ / "out" / "tokenizer.json").find("tokenizer-of-base"), std::string::npos);
}

// The files of a merged folder, name -> contents.
std::map<std::string, std::string> folder_files(const fs::path& folder) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(folder)) files[entry.path().filename().string()] = read_text(entry.path());
  return files;
}

TEST_F(MergeCliTest, ThreadCountDoesNotChangeTheOutput) {
  RandomLlamaOptions options;
  options.layers = 3;
  for (const std::string name : {"base", "a", "b"}) {
    ++options.seed;
    model(name, options);
  }
  // dare_ties draws random masks (per tensor seeds) and elects signs: both must not depend on the thread count.
  const std::string yaml =
      "merge_method: dare_ties\nbase_model: base\nmodels:\n"
      "  - {model: a, parameters: {weight: [0.2, 0.9], density: 0.6}}\n"
      "  - {model: b, parameters: {weight: 0.5, density: 0.3}}\n";
  // Same folder name in both runs, so that even the model card (which names the folder) is identical.
  ASSERT_EQ(merge(yaml, {"--threads", "1", "--out-shard-size", "6K"}, "one/merged").exit_code, 0);
  ASSERT_EQ(merge(yaml, {"--threads", "2", "--out-shard-size", "6K"}, "two/merged").exit_code, 0);
  const auto one = folder_files(dir_ / "one" / "merged");
  EXPECT_GT(one.size(), 3u);
  EXPECT_TRUE(one == folder_files(dir_ / "two" / "merged"));
}

// The executor merges tensors of more than 2^18 entries in row slices for element-wise methods (linear,
// task_arithmetic); the result must be the method's merge of the whole tensor bit for bit, for any --threads.
TEST_F(MergeCliTest, SlicedTensorsEqualTheWholeTensorMergeBitForBit) {
  RandomLlamaOptions options;
  options.vocab = 4099;  // embed_tokens and lm_head: 4099 x 80 = 327,920 entries, two slices of unequal rows
  options.hidden = 80;
  options.heads = 2;
  options.layers = 1;
  options.dtype = c10::kBFloat16;  // stored bf16, merged in fp32: slices are widened and rounded back
  options.max_shard_bytes = std::uint64_t{1} << 20;
  std::map<std::string, NamedTensors> models;
  for (const std::string name : {"base", "a", "b"}) {
    ++options.seed;
    models[name] = model(name, options);
  }
  const std::string name = "model.embed_tokens.weight";
  for (const std::string method : {"linear", "task_arithmetic"}) {
    const std::string yaml = "merge_method: " + method + "\nbase_model: base\nmodels:\n" +
                             "  - {model: base, parameters: {weight: 0.25}}\n"
                             "  - {model: a, parameters: {weight: 0.7}}\n"
                             "  - {model: b, parameters: {weight: -0.45}}\n";
    MethodInputs inputs;
    inputs.tensor_name = name;
    inputs.base = models["base"].at(name).to(at::kFloat);
    inputs.base_parameters = {{"weight", 0.25}};
    inputs.models = {models["a"].at(name).to(at::kFloat), models["b"].at(name).to(at::kFloat)};
    inputs.model_parameters = {{{"weight", 0.7}}, {{"weight", -0.45}}};
    const at::Tensor expected = find_merge_method(method).merge(inputs).to(at::kBFloat16);
    for (const std::string threads : {"1", "2"}) {
      const std::string out = method + "-" + threads;
      ASSERT_EQ(merge(yaml, {"--threads", threads}, out).exit_code, 0) << method;
      const at::Tensor merged = output(name, out);
      ASSERT_EQ(merged.scalar_type(), at::kBFloat16) << method;
      EXPECT_TRUE(at::equal(merged, expected)) << method << " --threads " << threads;
    }
  }
}

TEST_F(MergeCliTest, SeedMakesRandomMethodsReproducible) {
  model("base", 1);
  model("a", 2);
  const std::string yaml = "merge_method: dare_linear\nbase_model: base\nmodels:\n"
                           "  - {model: a, parameters: {weight: 1, density: 0.5}}\n";
  ASSERT_EQ(merge(yaml, {"--seed", "7"}, "first").exit_code, 0);
  ASSERT_EQ(merge(yaml, {"--seed", "7"}, "again").exit_code, 0);
  ASSERT_EQ(merge(yaml, {"--seed", "8"}, "other").exit_code, 0);
  const std::string name = "model.layers.1.mlp.up_proj.weight";
  EXPECT_TRUE(at::equal(output(name, "first"), output(name, "again")));
  EXPECT_FALSE(at::equal(output(name, "first"), output(name, "other")));
}

TEST_F(MergeCliTest, TiesKeepsTheTopDensityOfEachTensorsTaskVector) {
  const NamedTensors base = model("base", 1);
  const NamedTensors a = model("a", 2);
  // One model besides the base, weight 1: ties gives base + τ where |τ| is among the top half of the tensor's
  // entries, else base (sign election cannot disagree with a single model).
  ASSERT_EQ(merge("merge_method: ties\nbase_model: base\nmodels:\n"
                  "  - {model: a, parameters: {weight: 1, density: 0.5}}\n")
                .exit_code,
            0);
  for (const auto& [name, tensor] : base) {
    const at::Tensor kept = output(name) != tensor;
    EXPECT_EQ(kept.sum().item<std::int64_t>(), tensor.numel() / 2) << name;
  }
}

// TSV-M of a single fine-tune keeps all its singular components: the fine-tune itself, every tensor.
TEST_F(MergeCliTest, TsvMOfOneModelReturnsIt) {
  model("base", 1);
  const NamedTensors a = model("a", 2);
  ASSERT_EQ(merge("merge_method: tsv_m\nbase_model: base\nmodels: [{model: a}]\n").exit_code, 0);
  for (const auto& [name, tensor] : a) EXPECT_TRUE(at::allclose(output(name), tensor, 1e-5, 1e-5)) << name;
}

// Iso-C from the CLI: every matrix's update has one repeated singular value, every other tensor's is the mean.
TEST_F(MergeCliTest, IsoCFlattensEachMatrixsSpectrum) {
  const NamedTensors base = model("base", 1);
  const NamedTensors a = model("a", 2);
  const NamedTensors b = model("b", 3);
  ASSERT_EQ(merge("merge_method: iso_c\nbase_model: base\nmodels: [{model: a}, {model: b}]\n").exit_code, 0);
  for (const auto& [name, tensor] : base) {
    const at::Tensor update = (output(name) - tensor).to(at::kDouble);
    if (tensor.dim() != 2) {
      EXPECT_TRUE(at::allclose(update, ((a.at(name) + b.at(name)) / 2 - tensor).to(at::kDouble), 1e-5, 1e-5)) << name;
      continue;
    }
    const at::Tensor singular_values = at::linalg_svdvals(update);
    EXPECT_LT((singular_values.max() - singular_values.min()).item<double>(), 1e-4 * singular_values.max().item<double>())
        << name;
  }
}

TEST_F(MergeCliTest, GlobalTrimKeepsTheTopDensityOfTheWholeTaskVector) {
  const NamedTensors base = model("base", 1);
  const NamedTensors a = model("a", 2);
  ASSERT_EQ(merge("merge_method: ties\nbase_model: base\nmodels:\n"
                  "  - {model: a, parameters: {weight: 1, density: 0.25}}\n"
                  "parameters: {global_trim: true}\n")
                .exit_code,
            0);
  // Over the whole model, a quarter of the entries are kept, and every kept |τ| is at least every dropped one.
  std::int64_t total = 0;
  std::int64_t kept_count = 0;
  double smallest_kept = INFINITY;
  double largest_dropped = 0;
  for (const auto& [name, tensor] : base) {
    const at::Tensor magnitude = (a.at(name) - tensor).abs();
    const at::Tensor kept = output(name) != tensor;
    total += tensor.numel();
    kept_count += kept.sum().item<std::int64_t>();
    if (kept.any().item<bool>()) {
      smallest_kept = std::min(smallest_kept, magnitude.masked_select(kept).min().item<double>());
    }
    if ((~kept).any().item<bool>()) {
      largest_dropped = std::max(largest_dropped, magnitude.masked_select(~kept).max().item<double>());
    }
  }
  EXPECT_EQ(kept_count, total / 4);
  EXPECT_GE(smallest_kept, largest_dropped);
}

TEST_F(MergeCliTest, DryRunPrintsThePlanAndWritesNothing) {
  model("a", 1);
  model("b", 2);
  const CommandResult result =
      merge("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n", {"--dry-run"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("method: linear"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("21 tensors"), std::string::npos) << result.out;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(MergeCliTest, ExistingOutputNeedsOverwrite) {
  model("a", 1);
  const std::string yaml = "merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\n";
  ASSERT_EQ(merge(yaml).exit_code, 0);
  const CommandResult again = merge(yaml);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  EXPECT_EQ(merge(yaml, {"--overwrite"}).exit_code, 0);
}

TEST_F(MergeCliTest, PlainSafetensorsFileIsAModel) {
  const NamedTensors a = model("a", 1);
  model("b", 2);
  ASSERT_TRUE(fs::exists(dir_ / "b" / "model.safetensors.index.json"));
  RandomLlamaOptions single;
  single.seed = 3;
  single.max_shard_bytes = 1 << 20;
  const NamedTensors c = model("c", single);
  ASSERT_EQ(merge("merge_method: linear\nmodels: [{model: a}, {model: c/model.safetensors}]\n"
                  "parameters: {weight: 1}\n")
                .exit_code,
            0);
  const std::string name = "model.norm.weight";
  EXPECT_TRUE(at::allclose(output(name), (a.at(name) + c.at(name)) / 2, 1e-6, 1e-6));
}

TEST_F(MergeCliTest, UnavailableDeviceFailsWithoutOutput) {
  model("a", 1);
  const CommandResult result =
      merge("merge_method: linear\nmodels: [{model: a, parameters: {weight: 1}}]\n", {"--device", "cuda"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("--device: cuda: this libtorch has no CUDA"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(MergeCliTest, UnknownMethodFailsWithoutOutput) {
  model("a", 1);
  const std::string err = failed_merge("merge_method: linaer\nmodels: [{model: a, parameters: {weight: 1}}]\n");
  EXPECT_NE(err.find("linaer"), std::string::npos) << err;
  EXPECT_NE(err.find("merge.yml:1"), std::string::npos) << err;
}

TEST_F(MergeCliTest, UnknownKeyFailsNamingKeyAndLine) {
  model("a", 1);
  const std::string err =
      failed_merge("merge_method: linear\nmodels:\n  - model: a\n    weight: 1\n");
  EXPECT_NE(err.find("merge.yml:4"), std::string::npos) << err;
  EXPECT_NE(err.find("models[0].weight"), std::string::npos) << err;
}

TEST_F(MergeCliTest, MissingWeightFailsNamingTheModel) {
  model("a", 1);
  model("b", 2);
  const std::string err =
      failed_merge("merge_method: linear\nmodels:\n  - {model: a, parameters: {weight: 1}}\n  - model: b\n");
  EXPECT_NE(err.find("models[1] (b)"), std::string::npos) << err;
  EXPECT_NE(err.find("'weight'"), std::string::npos) << err;
}

TEST_F(MergeCliTest, MismatchedShapesFailNamingTheTensor) {
  model("a", 1);
  RandomLlamaOptions wider;
  wider.hidden = 20;
  model("b", wider);
  const std::string err = failed_merge("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  EXPECT_NE(err.find("shaped differently"), std::string::npos) << err;
  EXPECT_NE(err.find("model.layers.0.self_attn.q_proj.weight [20, 20] vs [16, 16]"), std::string::npos) << err;
}

TEST_F(MergeCliTest, MissingTensorFailsNamingTheTensor) {
  model("a", 1);
  const NamedTensors full = model("full", 2);
  NamedTensors partial;
  for (const auto& [name, tensor] : full) {
    if (name != "model.norm.weight") partial.insert(name, tensor);
  }
  io::save_checkpoint(dir_ / "b", partial, *io::CheckpointReader(dir_ / "full").config());
  const std::string err = failed_merge("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  EXPECT_NE(err.find("'b' lacks 1 tensor"), std::string::npos) << err;
  EXPECT_NE(err.find("model.norm.weight"), std::string::npos) << err;
}

TEST_F(MergeCliTest, LayerRangeOutOfRangeFails) {
  model("a", 1);
  const std::string err = failed_merge(
      "merge_method: linear\nparameters: {weight: 1}\nslices:\n  - sources:\n      - {model: a, layer_range: [1, 3]}\n");
  EXPECT_NE(err.find("slices[0].sources[0]"), std::string::npos) << err;
  EXPECT_NE(err.find("out of bounds"), std::string::npos) << err;
}

TEST_F(MergeCliTest, UnreadableModelPathFails) {
  model("a", 1);
  fs::create_directories(dir_ / "empty");
  const std::string err = failed_merge(
      "merge_method: linear\nmodels: [{model: a}, {model: empty}, {model: gone}]\nparameters: {weight: 1}\n");
  EXPECT_NE(err.find("'empty'"), std::string::npos) << err;
  EXPECT_NE(err.find("'gone'"), std::string::npos) << err;
  EXPECT_NE(err.find("cannot be opened"), std::string::npos) << err;
}

TEST_F(MergeCliTest, CheckReportsAVocabularyMismatchAndAMissingTensor) {
  model("a", 1);
  RandomLlamaOptions larger;
  larger.vocab = 36;
  const NamedTensors full = model("full", larger);
  NamedTensors partial;
  for (const auto& [name, tensor] : full) {
    if (name != "model.layers.0.mlp.gate_proj.weight") partial.insert(name, tensor);
  }
  io::save_checkpoint(dir_ / "b", partial, *io::CheckpointReader(dir_ / "full").config());
  config("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  const CommandResult result = run_ladle({"merge", "check", (dir_ / "merge.yml").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.out.find("[vocabulary] vocabulary sizes differ for model.embed_tokens.weight (32 rows: 'a'; "
                            "36 rows: 'b')"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("[tensors] 'b' lacks 1 tensor(s) that the reference 'a' has: "
                            "model.layers.0.mlp.gate_proj.weight"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("what to do:"), std::string::npos) << result.out;
}

TEST_F(MergeCliTest, CheckOfACompatibleConfigExitsZero) {
  model("a", 1);
  model("b", 2);
  config("merge_method: linear\nmodels: [{model: a}, {model: b}]\nparameters: {weight: 1}\n");
  const CommandResult result = run_ladle({"merge", "check", (dir_ / "merge.yml").string()});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("ready to merge"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace ladle::merge
