// `ladle merge lora` on the parts of a PEFT adapter beyond plain lora_A/lora_B of one rank: rank_pattern and
// alpha_pattern (per-module r and α, first matching key in file order), use_rslora (α/√r), lora_embedding_A/B
// (transposed), lora_B.bias (lora_bias) and modules_to_save (tensors replacing the base's). Adapters are written
// here by hand; every expected weight is a closed form from their tensors and the scales written out below.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_writer.h"
#include "lib/merge/lora_extraction.h"
#include "lib/merge/lora_delta_merger.h"
#include "lib/merge/lora_merge.h"
#include "lib/model/lora.h"
#include "lib/util/string_affixes.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::error_message;
using ladle::testing::RandomLlamaOptions;

const std::string kPrefix = "base_model.model.";

class LoraPeftOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("lora-peft");
    base_ = ladle::testing::write_random_llama(dir_ / "base", options_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A [rows, cols] tensor of N(0, 1) values from `seed`.
  static at::Tensor random(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
    at::manual_seed(seed);
    return at::randn({rows, cols});
  }
  // Writes an adapter folder: `config` (JSON text) and the tensors.
  void write_adapter(const std::string& config, const NamedTensors& tensors, const std::string& name = "adapter") {
    fs::create_directories(dir_ / name);
    ladle::testing::write_text_file(dir_ / name / "adapter_config.json", config);
    io::write_safetensors(dir_ / name / "adapter_model.safetensors", tensors);
  }
  NamedTensors merged() {
    merge_lora_into_model(dir_ / "base", dir_ / "adapter", dir_ / "out");
    return io::CheckpointReader(dir_ / "out").load_all();
  }
  static std::string config(const std::string& extra) {
    return R"({"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"])" + extra +
           "}";
  }

  RandomLlamaOptions options_;  // hidden 16: q_proj and v_proj are [16, 16]
  fs::path dir_;
  NamedTensors base_;
};

TEST_F(LoraPeftOptionsTest, RankAndAlphaPatternsGiveEachModuleItsOwnRankAndScale) {
  // PEFT takes the first key, in the file's order, whose "(.*\.)?(KEY)" matches the whole module name: layer 1's
  // v_proj takes "v_proj" (5), not the later, more specific key (a sorted reading would pick that one: 3).
  write_adapter(config(R"(, "rank_pattern": {"v_proj": 5, "layers.1.self_attn.v_proj": 3, "q_proj": 2},
                          "alpha_pattern": {"model.layers.0.self_attn.q_proj": 10})"),
                [] {
                  NamedTensors t;
                  std::uint64_t seed = 1;
                  for (const std::string layer : {"0", "1"}) {
                    const std::string q = kPrefix + "model.layers." + layer + ".self_attn.q_proj";
                    const std::string v = kPrefix + "model.layers." + layer + ".self_attn.v_proj";
                    t.insert(q + ".lora_A.weight", random(2, 16, seed++));
                    t.insert(q + ".lora_B.weight", random(16, 2, seed++));
                    t.insert(v + ".lora_A.weight", random(5, 16, seed++));
                    t.insert(v + ".lora_B.weight", random(16, 5, seed++));
                  }
                  return t;
                }());
  const NamedTensors out = merged();
  // s = α/r per module: layer 0 q: 10/2; layer 1 q: 8/2; v: 8/5.
  const std::vector<std::pair<std::string, double>> scales = {{"model.layers.0.self_attn.q_proj", 5.0},
                                                              {"model.layers.1.self_attn.q_proj", 4.0},
                                                              {"model.layers.0.self_attn.v_proj", 1.6},
                                                              {"model.layers.1.self_attn.v_proj", 1.6}};
  const NamedTensors adapter = io::CheckpointReader(dir_ / "adapter" / "adapter_model.safetensors").load_all();
  for (const auto& [module, scale] : scales) {
    const at::Tensor expected =
        base_.at(module + ".weight") + scale * at::matmul(adapter.at(kPrefix + module + ".lora_B.weight"),
                                                          adapter.at(kPrefix + module + ".lora_A.weight"));
    EXPECT_TRUE(at::allclose(out.at(module + ".weight"), expected, 1e-5, 1e-5)) << module;
  }
  EXPECT_TRUE(at::equal(out.at("model.layers.0.self_attn.k_proj.weight"), base_.at("model.layers.0.self_attn.k_proj.weight")));
}

TEST_F(LoraPeftOptionsTest, RsLoraScalesByAlphaOverRootR) {
  NamedTensors tensors;
  const std::string q = kPrefix + "model.layers.0.self_attn.q_proj";
  tensors.insert(q + ".lora_A.weight", random(4, 16, 1));
  tensors.insert(q + ".lora_B.weight", random(16, 4, 2));
  write_adapter(config(R"(, "use_rslora": true)"), tensors);
  const at::Tensor expected = base_.at("model.layers.0.self_attn.q_proj.weight") +
                              (8.0 / 2.0) * at::matmul(tensors.at(q + ".lora_B.weight"), tensors.at(q + ".lora_A.weight"));
  EXPECT_TRUE(at::allclose(merged().at("model.layers.0.self_attn.q_proj.weight"), expected, 1e-5, 1e-5));
}

TEST_F(LoraPeftOptionsTest, EmbeddingLoraAddsTheTransposedProduct) {
  NamedTensors tensors;
  const std::string embed = kPrefix + "model.embed_tokens";
  tensors.insert(embed + ".lora_embedding_A", random(4, options_.vocab, 3));   // [r, vocab]
  tensors.insert(embed + ".lora_embedding_B", random(options_.hidden, 4, 4));  // [hidden, r]
  write_adapter(config(""), tensors);
  const at::Tensor expected =
      base_.at("model.embed_tokens.weight") +
      2.0 * at::matmul(tensors.at(embed + ".lora_embedding_B"), tensors.at(embed + ".lora_embedding_A")).t();
  EXPECT_TRUE(at::allclose(merged().at("model.embed_tokens.weight"), expected, 1e-5, 1e-5));
}

TEST_F(LoraPeftOptionsTest, ModulesToSaveReplaceTheBaseTensors) {
  NamedTensors tensors;
  tensors.insert(kPrefix + "lm_head.weight", random(options_.vocab, options_.hidden, 5));
  tensors.insert(kPrefix + "model.norm.weight", random(1, options_.hidden, 6).view({options_.hidden}));
  tensors.insert(kPrefix + "model.layers.0.self_attn.q_proj.lora_A.weight", random(4, 16, 7));
  tensors.insert(kPrefix + "model.layers.0.self_attn.q_proj.lora_B.weight", random(16, 4, 8));
  write_adapter(config(R"(, "modules_to_save": ["lm_head", "norm"])"), tensors);
  const NamedTensors out = merged();
  EXPECT_TRUE(at::equal(out.at("lm_head.weight"), tensors.at(kPrefix + "lm_head.weight")));
  EXPECT_TRUE(at::equal(out.at("model.norm.weight"), tensors.at(kPrefix + "model.norm.weight")));
  // Only the norm the adapter holds: the layers' norms, also "…norm" modules, are the base's.
  EXPECT_TRUE(at::equal(out.at("model.layers.0.input_layernorm.weight"), base_.at("model.layers.0.input_layernorm.weight")));
}

TEST_F(LoraPeftOptionsTest, LoraBiasAddsTheScaledBiasToTheLayersBias) {
  // A one-layer base with a bias, as a plain .safetensors file.
  NamedTensors base;
  base.insert("proj.weight", random(6, 5, 9));
  base.insert("proj.bias", random(1, 6, 10).view({6}));
  io::write_safetensors(dir_ / "biased.safetensors", base);
  NamedTensors tensors;
  tensors.insert(kPrefix + "proj.lora_A.weight", random(2, 5, 11));
  tensors.insert(kPrefix + "proj.lora_B.weight", random(6, 2, 12));
  tensors.insert(kPrefix + "proj.lora_B.bias", random(1, 6, 13).view({6}));
  write_adapter(R"({"peft_type": "LORA", "r": 2, "lora_alpha": 3, "target_modules": ["proj"], "lora_bias": true})",
                tensors);
  merge_lora_into_model(dir_ / "biased.safetensors", dir_ / "adapter", dir_ / "out");
  const io::CheckpointReader out(dir_ / "out");
  EXPECT_TRUE(at::allclose(out.tensor("proj.bias"), base.at("proj.bias") + 1.5 * tensors.at(kPrefix + "proj.lora_B.bias"),
                           1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(out.tensor("proj.weight"),
                           base.at("proj.weight") + 1.5 * at::matmul(tensors.at(kPrefix + "proj.lora_B.weight"),
                                                                     tensors.at(kPrefix + "proj.lora_A.weight")),
                           1e-5, 1e-5));
}

TEST_F(LoraPeftOptionsTest, WhatCannotBeAppliedIsRefusedNamingTheKey) {
  const std::string q = kPrefix + "model.layers.0.self_attn.q_proj";
  NamedTensors plain;
  plain.insert(q + ".lora_A.weight", random(4, 16, 1));
  plain.insert(q + ".lora_B.weight", random(16, 4, 2));

  NamedTensors unlisted = plain;  // a whole tensor of a module modules_to_save does not list
  unlisted.insert(kPrefix + "lm_head.weight", random(options_.vocab, options_.hidden, 3));
  write_adapter(config(""), unlisted);
  EXPECT_TRUE(contains(error_message([&] { merged(); }), "'base_model.model.lm_head.weight' is neither a LoRA factor"));

  NamedTensors biased = plain;  // a lora_B.bias the config does not declare
  biased.insert(q + ".lora_B.bias", random(1, 16, 4).view({16}));
  write_adapter(config(""), biased);
  EXPECT_TRUE(contains(error_message([&] { merged(); }), "lora_bias is not true"));

  write_adapter(config(R"(, "rank_pattern": {"q_proj": 3})"), plain);  // factors of rank 4, pattern says 3
  EXPECT_TRUE(contains(error_message([&] { merged(); }), "with its r = 3 (r, or its rank_pattern entry)"));

  write_adapter(config(R"(, "rank_pattern": {"q_(proj": 3})"), plain);
  EXPECT_TRUE(
      contains(error_message([&] { merged(); }), "field 'rank_pattern': 'q_(proj' is not a valid regular expression"));

  write_adapter(config(R"(, "use_dora": true)"), plain);
  EXPECT_TRUE(contains(error_message([&] { merged(); }), "'use_dora'"));

  // Llama's q_proj has no bias for lora_B.bias to go to.
  NamedTensors no_base_bias = plain;
  no_base_bias.insert(q + ".lora_B.bias", random(1, 16, 4).view({16}));
  write_adapter(config(R"(, "lora_bias": true)"), no_base_bias);
  EXPECT_TRUE(contains(error_message([&] { merged(); }), "no 'model.layers.0.self_attn.q_proj.bias'"));
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(LoraPeftOptionsTest, TrainingUsesRefuseWhatOnlyTheMergeApplies) {
  const std::string q = kPrefix + "model.layers.0.self_attn.q_proj";
  NamedTensors tensors;
  tensors.insert(q + ".lora_A.weight", random(2, 16, 1));
  tensors.insert(q + ".lora_B.weight", random(16, 2, 2));
  write_adapter(config(R"(, "rank_pattern": {"q_proj": 2})"), tensors);
  const model::LoraAdapter adapter = model::read_lora_adapter(dir_ / "adapter");
  ASSERT_EQ(adapter.rank_pattern.size(), 1u);
  EXPECT_TRUE(contains(error_message([&] { model::merge_lora_into_base(base_, adapter); }), "'rank_pattern'"));
}

TEST_F(LoraPeftOptionsTest, MergingAdaptersInDeltaSpaceRefusesWhatHasNoDelta) {
  const std::string q = kPrefix + "model.layers.0.self_attn.q_proj";
  NamedTensors plain;
  plain.insert(q + ".lora_A.weight", random(4, 16, 1));
  plain.insert(q + ".lora_B.weight", random(16, 4, 2));
  NamedTensors saved = plain;
  saved.insert(kPrefix + "lm_head.weight", random(options_.vocab, options_.hidden, 3));
  write_adapter(config(R"(, "modules_to_save": ["lm_head"])"), saved, "saved");
  write_adapter(config(""), plain, "plain");
  const MergeConfig merge = parse_merge_config(
      "merge_method: linear\nmodels: [{model: saved}, {model: plain}]\nparameters: {weight: 1}\n", "merge.yml", dir_);
  EXPECT_TRUE(contains(error_message([&] { LoraDeltaMerger merger(merge); }), "does not take modules_to_save tensors"));
}

// extract-lora's adapters use rank_pattern / alpha_pattern, modules_to_save and lora_embedding_A/B: `merge lora`
// reads each back, reproducing the fine-tune exactly when every update's rank is at most its module's rank.
TEST_F(LoraPeftOptionsTest, ExtractedAdapterWithEveryOptionRoundTrips) {
  NamedTensors finetuned;
  std::uint64_t seed = 20;
  for (const auto& [name, tensor] : base_) {
    at::Tensor update;
    if (ends_with(name, "_proj.weight") || ends_with(name, "embed_tokens.weight") || name == "lm_head.weight") {
      const std::int64_t rank = contains(name, "down_proj") ? 2 : 3;  // at most each module's rank below
      update = at::matmul(random(tensor.size(0), rank, seed), random(rank, tensor.size(1), seed + 1)) * 0.1;
      seed += 2;
    } else {
      update = random(1, tensor.numel(), seed++).view(tensor.sizes()) * 0.1;  // norms: saved whole
    }
    finetuned.insert(name, tensor + update);
  }
  io::save_checkpoint(dir_ / "finetuned", finetuned, ladle::testing::random_llama_config(options_));
  LoraExtractionOptions options;
  options.rank = 4;
  options.rank_patterns = {{"down_proj", 2}};
  options.embed_lora = true;
  extract_lora(dir_ / "base", dir_ / "finetuned", dir_ / "adapter", options);
  const model::LoraAdapter adapter = model::read_lora_adapter(dir_ / "adapter");
  EXPECT_FALSE(adapter.rank_pattern.empty());
  EXPECT_FALSE(adapter.modules_to_save.empty());
  const NamedTensors out = merged();
  for (const auto& [name, tensor] : finetuned) {
    const double error = (out.at(name) - tensor).norm().item<double>() / (tensor - base_.at(name)).norm().item<double>();
    EXPECT_LT(error, 1e-5) << name;
  }
}

}  // namespace
}  // namespace ladle::merge
