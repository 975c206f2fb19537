// `ladle extract-lora`: a PEFT adapter from the difference of two models. Fine-tunes are built here as the base
// plus updates of known rank, so the round trip through `merge lora` must reproduce them exactly; for full-rank
// updates it must stay within the error the table reports, and the table's energies must match numpy's SVD
// (tests/tools/svd_energy_reference.py), computed without ladle's code.
#include "lib/merge/lora_extraction.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/io/safetensors_reader.h"
#include "lib/merge/lora_merge.h"
#include "lib/util/string_affixes.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::contains;
using ladle::testing::RandomLlamaOptions;

constexpr const char* kSkipEmbeddings = "embed_tokens|lm_head";

bool is_linear_weight(const std::string& name) { return ends_with(name, "_proj.weight"); }

// The base's tensors with `update(name, weight)` added to every projection weight.
template <typename Update>
NamedTensors finetune(const NamedTensors& base, Update update) {
  NamedTensors finetuned;
  for (const auto& [name, tensor] : base) {
    finetuned.insert(name, is_linear_weight(name) ? tensor + update(name, tensor) : tensor.clone());
  }
  return finetuned;
}

class LoraExtractionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ladle::testing::make_temp_dir("lora_extraction");
    base_tensors_ = ladle::testing::write_random_llama(root_ / "base", options_);
  }

  fs::path write_finetune(const NamedTensors& tensors, const std::string& name = "finetuned") {
    io::save_checkpoint(root_ / name, tensors, ladle::testing::random_llama_config(options_));
    return root_ / name;
  }

  // ‖W_merged − W_finetuned‖_F / ‖W_finetuned − W_base‖_F of one tensor.
  static double relative_error(const NamedTensors& merged, const NamedTensors& finetuned, const NamedTensors& base,
                               const std::string& name) {
    const at::Tensor delta = finetuned.at(name).to(at::kDouble) - base.at(name).to(at::kDouble);
    return (merged.at(name).to(at::kDouble) - finetuned.at(name).to(at::kDouble)).norm().item<double>() /
           delta.norm().item<double>();
  }

  struct Extraction {
    NamedTensors finetuned;
    fs::path folder;
    LoraExtractionResult result;
  };

  // A fine-tune with update(weight) added to every projection, and the rank-`rank` extraction of its projections
  // alone (embeddings excluded, norms skipped) into root_/adapter.
  Extraction extract_projections(const std::function<at::Tensor(const at::Tensor&)>& update, std::int64_t rank) {
    Extraction extraction;
    extraction.finetuned =
        finetune(base_tensors_, [&](const std::string&, const at::Tensor& weight) { return update(weight); });
    extraction.folder = write_finetune(extraction.finetuned);
    LoraExtractionOptions options;
    options.rank = rank;
    options.exclude_regexes = {kSkipEmbeddings};
    options.skip_undecomposable = true;
    extraction.result = extract_lora(root_ / "base", extraction.folder, root_ / "adapter", options);
    return extraction;
  }

  RandomLlamaOptions options_;
  fs::path root_;
  NamedTensors base_tensors_;
};

TEST_F(LoraExtractionTest, RoundTripIsExactWhenEveryUpdateHasRankAtMostR) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto [finetuned, folder, result] = extract_projections(
      [&](const at::Tensor& weight) {
        const at::Tensor b = at::randn({weight.size(0), 3}, generator), a = at::randn({3, weight.size(1)}, generator);
        return at::matmul(b, a) * 0.1;
      },
      4);

  ASSERT_EQ(result.rank, 4);
  for (const auto& row : result.modules) {
    const bool norm = ends_with(row.name, "norm");
    EXPECT_EQ(row.kind, norm ? ExtractedModuleKind::skipped : ExtractedModuleKind::lora) << row.name;
    if (norm) continue;
    EXPECT_EQ(row.rank, 4) << row.name;
    EXPECT_NEAR(row.energy_fraction(), 1.0, 1e-6) << row.name;
    EXPECT_LT(row.relative_error, 1e-5) << row.name;
  }
  merge_lora_into_model(root_ / "base", root_ / "adapter", root_ / "merged");
  const NamedTensors merged = io::CheckpointReader(root_ / "merged").load_all();
  for (const auto& [name, tensor] : finetuned) {
    if (is_linear_weight(name)) {
      EXPECT_LE(relative_error(merged, finetuned, base_tensors_, name), 1e-5) << name;
    } else {
      EXPECT_TRUE(at::equal(merged.at(name), tensor)) << name;
    }
  }
}

TEST_F(LoraExtractionTest, RoundTripStaysWithinTheReportedErrorForFullRankUpdates) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(8);
  const auto [finetuned, folder, result] =
      extract_projections([&](const at::Tensor& weight) { return at::randn(weight.sizes(), generator) * 0.05; }, 3);
  merge_lora_into_model(root_ / "base", root_ / "adapter", root_ / "merged");
  const NamedTensors merged = io::CheckpointReader(root_ / "merged").load_all();
  for (const auto& row : result.modules) {
    if (row.kind != ExtractedModuleKind::lora) continue;
    // Eckart–Young: the error of the best rank-k approximation is √(Σ_{i>k} σᵢ²) / √(Σ σᵢ²).
    EXPECT_NEAR(row.relative_error, std::sqrt(1 - row.energy_fraction()), 1e-5) << row.name;
    EXPECT_GT(row.relative_error, 0.1) << row.name;  // a random [16+, 16+] matrix is far from rank 3
    EXPECT_LE(relative_error(merged, finetuned, base_tensors_, row.name + ".weight"), row.relative_error + 1e-5)
        << row.name;
  }
}

TEST_F(LoraExtractionTest, RetainedEnergyAgreesWithNumpySvd) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(9);
  const auto [finetuned, folder, result] =
      extract_projections([&](const at::Tensor& weight) { return at::randn(weight.sizes(), generator) * 0.05; }, 5);
  std::size_t compared = 0;
  for (const auto& row : result.modules) {
    if (row.kind != ExtractedModuleKind::lora || row.name.find("layers.1.") == std::string::npos) continue;
    const auto reference = ladle::testing::run_command(
        ladle::testing::python_program(), {std::string(LADLE_SOURCE_DIR) + "/tests/tools/svd_energy_reference.py",
                                           (root_ / "base").string(), folder.string(), row.name + ".weight", "5"});
    ASSERT_EQ(reference.exit_code, 0) << reference.err;
    std::istringstream figures(reference.out);
    double total = 0, kept = 0;
    figures >> total >> kept;
    EXPECT_NEAR(row.total_energy, total, 1e-5 * total) << row.name;
    EXPECT_NEAR(row.kept_energy, kept, 1e-5 * total) << row.name;
    ++compared;
  }
  EXPECT_EQ(compared, 7u);  // q, k, v, o, gate, up, down of layer 1
}

TEST_F(LoraExtractionTest, RankPatternsSetPerModuleRanksInTheConfig) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(10);
  const NamedTensors finetuned = finetune(base_tensors_, [&](const std::string&, const at::Tensor& weight) {
    return at::randn(weight.sizes(), generator);
  });
  LoraExtractionOptions options;
  options.rank = 4;
  options.rank_patterns = {{"layers\\.0\\.mlp\\.down_proj", 2}, {"up_proj", 6}};
  options.exclude_regexes = {kSkipEmbeddings};
  const auto result = extract_lora(root_ / "base", write_finetune(finetuned), root_ / "adapter", options);
  EXPECT_EQ(result.rank, 6);
  const auto config = nlohmann::json::parse(ladle::testing::read_text_file(root_ / "adapter" / "adapter_config.json"));
  EXPECT_EQ(config["r"], 6);
  EXPECT_EQ(config["lora_alpha"], 6);
  EXPECT_EQ(config["rank_pattern"]["model.layers.0.mlp.down_proj"], 2);
  EXPECT_EQ(config["rank_pattern"]["model.layers.1.mlp.down_proj"], 4);
  EXPECT_EQ(config["rank_pattern"]["model.layers.0.self_attn.q_proj"], 4);
  EXPECT_FALSE(config["rank_pattern"].contains("model.layers.0.mlp.up_proj"));
  EXPECT_EQ(config["alpha_pattern"], config["rank_pattern"]);
  // The norms cannot be decomposed: saved whole, named by their last component.
  EXPECT_EQ(config["modules_to_save"], nlohmann::json::array({"input_layernorm", "norm", "post_attention_layernorm"}));
  const io::SafetensorsReader adapter(root_ / "adapter" / "adapter_model.safetensors");
  EXPECT_EQ(adapter.entry("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight").shape,
            (std::vector<std::int64_t>{2, options_.intermediate}));
  EXPECT_TRUE(at::equal(adapter.tensor("base_model.model.model.norm.weight"), finetuned.at("model.norm.weight")));
}

TEST_F(LoraExtractionTest, EmbeddingsAreTransposedAsPeftExpects) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(11);
  NamedTensors finetuned =
      finetune(base_tensors_, [](const std::string&, const at::Tensor& weight) { return at::zeros_like(weight); });
  const at::Tensor update =
      at::matmul(at::randn({options_.vocab, 2}, generator), at::randn({2, options_.hidden}, generator));
  finetuned.insert_or_assign("model.embed_tokens.weight", base_tensors_.at("model.embed_tokens.weight") + update);
  LoraExtractionOptions options;
  options.rank = 2;
  options.embed_lora = true;
  options.include_regexes = {"embed_tokens"};
  extract_lora(root_ / "base", write_finetune(finetuned), root_ / "adapter", options);
  const io::SafetensorsReader adapter(root_ / "adapter" / "adapter_model.safetensors");
  const at::Tensor a = adapter.tensor("base_model.model.model.embed_tokens.lora_embedding_A");
  const at::Tensor b = adapter.tensor("base_model.model.model.embed_tokens.lora_embedding_B");
  ASSERT_EQ(a.sizes(), (std::vector<std::int64_t>{2, options_.vocab}));
  ASSERT_EQ(b.sizes(), (std::vector<std::int64_t>{options_.hidden, 2}));
  // PEFT's Embedding adds (B·A)ᵀ to the [vocab, hidden] weight.
  EXPECT_TRUE(at::allclose(at::matmul(b, a).t(), update, 1e-4, 1e-4));
}

TEST_F(LoraExtractionTest, AddedVocabularyRowsAreTruncatedUnlessExtended) {
  NamedTensors finetuned =
      finetune(base_tensors_, [](const std::string&, const at::Tensor& weight) { return at::ones_like(weight); });
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
    finetuned.insert_or_assign(name, at::cat({base_tensors_.at(name), at::ones({3, options_.hidden})}));
  }
  const fs::path finetuned_dir = write_finetune(finetuned);
  extract_lora(root_ / "base", finetuned_dir, root_ / "truncated");
  const io::SafetensorsReader truncated(root_ / "truncated" / "adapter_model.safetensors");
  EXPECT_EQ(truncated.entry("base_model.model.lm_head.weight").shape,
            (std::vector<std::int64_t>{options_.vocab, options_.hidden}));
  LoraExtractionOptions options;
  options.extend_vocab = true;
  extract_lora(root_ / "base", finetuned_dir, root_ / "extended", options);
  const io::SafetensorsReader extended(root_ / "extended" / "adapter_model.safetensors");
  EXPECT_TRUE(at::equal(extended.tensor("base_model.model.model.embed_tokens.weight"),
                        finetuned.at("model.embed_tokens.weight")));
}

TEST_F(LoraExtractionTest, TiedEmbeddingsStandInForAMissingLmHead) {
  NamedTensors finetuned =
      finetune(base_tensors_, [](const std::string&, const at::Tensor& weight) { return at::zeros_like(weight); });
  NamedTensors tied;
  for (const auto& [name, tensor] : finetuned) {
    if (name != "lm_head.weight") tied.insert(name, tensor);
  }
  LoraExtractionOptions options;
  options.include_regexes = {"lm_head|q_proj"};
  extract_lora(root_ / "base", write_finetune(tied), root_ / "adapter", options);
  const io::SafetensorsReader adapter(root_ / "adapter" / "adapter_model.safetensors");
  EXPECT_TRUE(at::equal(adapter.tensor("base_model.model.lm_head.weight"), finetuned.at("model.embed_tokens.weight")));
}

TEST_F(LoraExtractionTest, BadInputsAreClearErrorsAndWriteNothing) {
  const auto failure = [&](const fs::path& finetuned, const LoraExtractionOptions& options) {
    try {
      extract_lora(root_ / "base", finetuned, root_ / "adapter", options);
    } catch (const Error& error) {
      EXPECT_FALSE(fs::exists(root_ / "adapter"));
      return std::string(error.what());
    }
    return std::string("no error");
  };
  const fs::path same = write_finetune(base_tensors_, "same");
  LoraExtractionOptions zero;
  zero.rank = 0;
  EXPECT_TRUE(contains(failure(same, zero), "--rank must be at least 1, got 0")) << failure(same, zero);
  LoraExtractionOptions bad_regex;
  bad_regex.include_regexes = {"("};
  EXPECT_TRUE(contains(failure(same, bad_regex), "--include-regex: '(' is not a valid regular expression"));

  RandomLlamaOptions wider = options_;
  wider.hidden = 24;
  ladle::testing::write_random_llama(root_ / "wider", wider);
  const std::string mismatch = failure(root_ / "wider", {});
  EXPECT_TRUE(contains(mismatch, "'model.embed_tokens.weight' has shape [32, 16] in")) << mismatch;
  EXPECT_TRUE(contains(mismatch, "but [32, 24] in")) << mismatch;

  NamedTensors fewer;
  for (const auto& [name, tensor] : base_tensors_) {
    if (name.find("layers.1.") == std::string::npos) fewer.insert(name, tensor);
  }
  const std::string missing = failure(write_finetune(fewer, "fewer"), {});
  EXPECT_TRUE(contains(missing, "no 'model.layers.1.")) << missing;
  EXPECT_TRUE(contains(missing, "different architectures")) << missing;
}

TEST_F(LoraExtractionTest, CommandWritesTheAdapterAndTheTable) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(12);
  const NamedTensors finetuned = finetune(base_tensors_, [&](const std::string&, const at::Tensor& weight) {
    return at::matmul(at::randn({weight.size(0), 2}, generator), at::randn({2, weight.size(1)}, generator));
  });
  const fs::path finetuned_dir = write_finetune(finetuned);
  const auto extracted = ladle::testing::run_ladle(
      {"extract-lora", (root_ / "base").string(), finetuned_dir.string(), (root_ / "adapter").string(), "--rank", "2",
       "--exclude-regex", kSkipEmbeddings, "--skip-undecomposable", "--rank-pattern", "q_proj=2"});
  ASSERT_EQ(extracted.exit_code, 0) << extracted.err;
  EXPECT_TRUE(contains(extracted.out, "model.layers.1.mlp.down_proj")) << extracted.out;
  const auto report =
      nlohmann::json::parse(ladle::testing::read_text_file(root_ / "adapter" / kLoraExtractionReportFile));
  EXPECT_EQ(report["r"], 2);
  EXPECT_EQ(report["modules"].size(), 2u * 7u + 2u * 2u + 1u);  // per layer 7 projections and 2 norms; final norm
  const auto merged = ladle::testing::run_ladle(
      {"merge", "lora", (root_ / "base").string(), (root_ / "adapter").string(), (root_ / "merged").string()});
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  const auto rank_zero = ladle::testing::run_ladle({"extract-lora", (root_ / "base").string(), finetuned_dir.string(),
                                                    (root_ / "zero").string(), "--rank-pattern", "q_proj"});
  EXPECT_NE(rank_zero.exit_code, 0);
  EXPECT_TRUE(contains(rank_zero.err, "expected REGEX=RANK")) << rank_zero.err;
}

}  // namespace
}  // namespace ladle::merge
