// Online merging around the trainer's optimizers (trainer/online_merging_optimizer.h): with nothing to merge it is
// the plain optimizer bit for bit; with the reference alone it walks along τ_ref as the formula says; a resumed run
// with it on is bit-identical to a straight one; and bad online_merging configs are rejected with clear messages.
#include "trainer/online_merging_optimizer.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>

#include "lib/model/causal_lm_factory.h"
#include "lib/weights/flat_parameters.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/trainer/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::trainer {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

// Two parameters (one decayed) flattened, with seeded gradients per step.
struct Fixture {
  at::Tensor weight = at::randn({6, 5}, at::TensorOptions().dtype(at::kFloat)).requires_grad_(true);
  at::Tensor bias = at::randn({5}, at::TensorOptions().dtype(at::kFloat)).requires_grad_(true);
  FlatParameters parameters{{{"weight", weight}, {"bias", bias}}};

  at::Tensor values() const { return parameters.groups().front().values; }
  void set_gradients(std::int64_t step) {
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(100 + step);
    const_cast<at::Tensor&>(parameters.groups().front().gradients)
        .copy_(at::randn({values().numel()}, generator, at::TensorOptions().dtype(at::kFloat)));
  }
};

OptimizerConfig optimizer_config(OptimizerKind kind) {
  OptimizerConfig config;
  config.name = kind;
  config.lr = 0.05;
  config.weight_decay = 0.1;
  return config;
}

merge::OnlineMergeOptions merge_options(merge::OnlineMergeOperator op, double density, double update_weight,
                                        double reference_weight) {
  merge::OnlineMergeOptions options;
  options.op = op;
  options.density = density;
  options.update_weight = update_weight;
  options.reference_weight = reference_weight;
  return options;
}

// θ_T − θ_0 after `steps` steps of online merging around a `kind` optimizer, with seeded gradients.
at::Tensor movement(OptimizerKind kind, const merge::OnlineMergeOptions& options, const at::Tensor& reference,
                    std::int64_t steps) {
  Fixture fixture;
  const at::Tensor start = fixture.values().clone();
  OnlineMergingOptimizer online(make_optimizer(optimizer_config(kind), fixture.parameters, 30), fixture.parameters,
                                reference, options, 5);
  for (std::int64_t step = 0; step < steps; ++step) {
    fixture.set_gradients(step);
    online.step();
  }
  return fixture.values() - start;
}

double cosine(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) * b.to(at::kDouble)).sum().item<double>() /
         (a.to(at::kDouble).norm().item<double>() * b.to(at::kDouble).norm().item<double>());
}

TEST(OnlineMergingOptimizer, DensityOneWithoutReferenceIsThePlainOptimizerBitForBit) {
  for (const OptimizerKind kind : {OptimizerKind::adamw, OptimizerKind::sgd}) {
    for (const auto op : {merge::OnlineMergeOperator::ondare, merge::OnlineMergeOperator::onties}) {
      at::manual_seed(1);
      Fixture plain;
      at::manual_seed(1);
      Fixture merged;
      const auto plain_optimizer = make_optimizer(optimizer_config(kind), plain.parameters, 30);
      OnlineMergingOptimizer online(make_optimizer(optimizer_config(kind), merged.parameters, 30), merged.parameters,
                                    at::randn({35}), merge_options(op, 1.0, 1.0, 0.0), 5);
      for (std::int64_t step = 0; step < 6; ++step) {
        plain.set_gradients(step);
        merged.set_gradients(step);
        plain_optimizer->step();
        online.step();
      }
      EXPECT_TRUE(at::equal(plain.values(), merged.values()))
          << optimizer_kind_name(kind) << " " << merge::online_merge_operator_name(op);
      EXPECT_EQ(online.steps(), 6);
    }
  }
}

// With update weight 0 only w_r·τ_ref is applied at each step: after T steps θ_T − θ_0 = T·w_r·τ_ref (density 1).
TEST(OnlineMergingOptimizer, ReferenceWeightAloneMovesAlongTheReferenceTaskVector) {
  for (const auto op : {merge::OnlineMergeOperator::ondare, merge::OnlineMergeOperator::onties}) {
    const at::Tensor reference = at::randn({35});
    const at::Tensor moved = movement(OptimizerKind::adamw, merge_options(op, 1.0, 0.0, 0.01), reference, 20);
    EXPECT_GT(cosine(moved, reference), 1 - 1e-6);
    // Each step rounds θ + 0.01·τ once: 20 roundings of |θ| ~ 1 stay below 1e-5.
    EXPECT_TRUE(at::allclose(moved, reference * 0.2, 1e-5, 1e-5)) << merge::online_merge_operator_name(op);
  }
}

// OnDARE at density p: each step adds w_r·τ⊙m/p with a fresh mask, so after T steps E[θ_T − θ_0] = T·w_r·τ and
// cos(θ_T − θ_0, τ) ≈ 1/√(1 + (1 − p)/(T·p)) (≈ 0.995 for T = 100, p = 0.5).
TEST(OnlineMergingOptimizer, OnDareWithTheReferenceAloneFollowsItInExpectation) {
  const at::Tensor reference = at::randn({35});
  const at::Tensor moved =
      movement(OptimizerKind::sgd, merge_options(merge::OnlineMergeOperator::ondare, 0.5, 0.0, 0.01), reference, 100);
  EXPECT_GT(cosine(moved, reference), 0.98);
  const double projection = (moved * reference).sum().item<double>() / reference.norm().pow(2).item<double>();
  EXPECT_NEAR(projection, 1.0, 0.1);  // T·w_r = 1
}

// OnTIES at density p with the reference alone adds w_r·trim_p(τ) per tensor at every step.
TEST(OnlineMergingOptimizer, OnTiesWithTheReferenceAloneAddsTheTrimmedReference) {
  const at::Tensor reference = at::randn({35});
  const at::Tensor moved =
      movement(OptimizerKind::adamw, merge_options(merge::OnlineMergeOperator::onties, 0.4, 0.0, 0.5), reference, 4);
  // Per tensor: weight (30 entries) keeps its 12 largest |τ|, bias (5) its 2 largest.
  at::Tensor trimmed = at::zeros_like(reference);
  for (const auto& [offset, numel, kept] : {std::tuple<int, int, int>{0, 30, 12}, {30, 5, 2}}) {
    const at::Tensor part = reference.narrow(0, offset, numel);
    const at::Tensor top = std::get<1>(part.abs().topk(kept));
    trimmed.narrow(0, offset, numel).index_copy_(0, top, part.index_select(0, top));
  }
  EXPECT_TRUE(at::allclose(moved, trimmed * 2.0, 1e-5, 1e-6));
}

TEST(OnlineMergingOptimizer, ReferenceTaskVectorIsTheReferenceMinusTheBase) {
  const std::string dir = ladle::testing::make_temp_dir("online-merging-reference");
  const auto base = testing::tiny_model(0.0, 1), reference = testing::tiny_model(0.0, 2);
  const auto live = testing::tiny_model(0.0, 3);
  model::save_causal_lm(*base, dir + "/base");
  model::save_causal_lm(*reference, dir + "/reference");
  FlatParameters parameters(*live);
  const at::Tensor from_live = reference_task_vector(parameters, dir + "/reference");
  const at::Tensor from_base = reference_task_vector(parameters, dir + "/reference", dir + "/base");
  const FlatParameterSlot& slot = parameters.groups().front().slots.front();
  const at::Tensor expected_live = reference->named_parameters()[slot.name] - live->named_parameters()[slot.name];
  const at::Tensor expected_base = reference->named_parameters()[slot.name] - base->named_parameters()[slot.name];
  EXPECT_TRUE(at::equal(from_live.narrow(0, slot.offset, slot.numel).view(slot.shape), expected_live));
  EXPECT_TRUE(at::equal(from_base.narrow(0, slot.offset, slot.numel).view(slot.shape), expected_base));
  const auto message = error_message([&] { reference_task_vector(parameters, dir); });
  EXPECT_FALSE(message.empty());
  std::filesystem::remove_all(dir);
}

// ---- in the trainer ----

class OnlineMergingTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("online-merging");
    model::save_causal_lm(*testing::tiny_model(0.0, 7), dir_ + "/reference");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig config(const std::string& out, const std::string& op) const {
    TrainConfig c = testing::tiny_config(out);
    c.max_steps = 8;
    c.schedule.name = ScheduleKind::cosine;
    c.schedule.warmup_steps = 2;
    c.online_merging.reference_model = dir_ + "/reference";
    c.online_merging.op = op;
    c.online_merging.density = 0.5;
    c.online_merging.reference_weight = 0.05;
    c.online_merging.seed = 9;
    return c;
  }

  NamedTensors run(const TrainConfig& c, std::int64_t stop_at, bool resume) {
    Trainer trainer(c, testing::tiny_model(/*attention_dropout=*/0.2), testing::tiny_data(10));
    auto recorder = std::make_shared<testing::EventRecorder>();
    recorder->stop_at_step = stop_at;
    trainer.add_callback(recorder);
    trainer.train(resume ? std::optional<std::filesystem::path>(c.output_dir) : std::nullopt);
    return testing::parameters_of(trainer.model());
  }

  std::string dir_;
};

TEST_F(OnlineMergingTrainingTest, ResumingGivesBitIdenticalWeights) {
  for (const std::string op : {"ondare", "onties"}) {
    const auto straight = run(config(dir_ + "/straight-" + op, op), -1, false);
    run(config(dir_ + "/split-" + op, op), 4, false);
    const auto resumed = run(config(dir_ + "/split-" + op, op), -1, true);
    testing::expect_bitwise_equal(straight, resumed);
    TrainConfig plain = config(dir_ + "/plain-" + op, op);
    plain.online_merging = {};
    const auto unmerged = run(plain, -1, false);
    EXPECT_FALSE(at::equal(unmerged.at("model.norm.weight"), straight.at("model.norm.weight"))) << op;
  }
}

TEST_F(OnlineMergingTrainingTest, ResumingWithOtherMergeOptionsIsRefused) {
  run(config(dir_ + "/split", "ondare"), 4, false);
  TrainConfig changed = config(dir_ + "/split", "ondare");
  changed.online_merging.reference_weight = 0.1;
  const auto message = error_message([&] { run(changed, -1, true); });
  EXPECT_TRUE(contains(message, "resuming exactly needs the same")) << message;
  TrainConfig off = config(dir_ + "/split", "ondare");
  off.online_merging = {};
  EXPECT_FALSE(error_message([&] { run(off, -1, true); }).empty());
}

// ---- the online_merging: config section ----

class OnlineMergingConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("online-merging-config");
    ladle::testing::write_text_file(dir_ + "/train.jsonl", "{\"instruction\": \"Say hi\", \"output\": \"hi\"}\n");
    std::filesystem::create_directories(dir_ + "/reference");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TrainConfig parse(const std::string& section, const std::vector<std::string>& overrides = {}) const {
    const std::string yaml =
        "model:\n"
        "  config: {hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32}\n"
        "tokenizer: {type: byte}\n"
        "data: {train: train.jsonl}\n"
        "online_merging:\n" +
        section;
    return TrainConfig::from_yaml(yaml, "train.yml", dir_, overrides);
  }

  std::string dir_;
};

TEST_F(OnlineMergingConfigTest, ValuesLandInTheirFields) {
  const TrainConfig config = parse(
      "  reference_model: reference\n  operator: onties\n  density: 0.3\n  reference_weight: 0.01\n  seed: 4\n",
      {"online_merging.update_weight=0.5"});
  EXPECT_TRUE(config.online_merging.enabled());
  EXPECT_EQ(config.online_merging.reference_model, std::filesystem::path(dir_) / "reference");
  EXPECT_TRUE(config.online_merging.base_model.empty());
  EXPECT_EQ(config.online_merging.op, "onties");
  EXPECT_DOUBLE_EQ(config.online_merging.density, 0.3);
  EXPECT_DOUBLE_EQ(config.online_merging.reference_weight, 0.01);
  EXPECT_DOUBLE_EQ(config.online_merging.update_weight, 0.5);
  EXPECT_EQ(config.online_merging.seed, 4u);
  EXPECT_EQ(config.to_json().at("online_merging").at("operator"), "onties");
}

TEST_F(OnlineMergingConfigTest, BadValuesAreRejectedWithTheirKeyAndLine) {
  const auto density = error_message([&] { parse("  reference_model: reference\n  density: 0\n"); });
  EXPECT_TRUE(contains(density, "train.yml:7: online_merging.density: must be in (0, 1]")) << density;
  const auto weight = error_message([&] { parse("  reference_model: reference\n  reference_weight: -0.1\n"); });
  EXPECT_TRUE(contains(weight, "online_merging.reference_weight: must not be negative")) << weight;
  const auto op = error_message([&] { parse("  reference_model: reference\n  operator: dare\n"); });
  EXPECT_TRUE(contains(op, "online_merging.operator: expected one of ondare, onties, got 'dare'")) << op;
  const auto unknown = error_message([&] { parse("  reference_model: reference\n  densty: 0.5\n"); });
  EXPECT_TRUE(contains(unknown, "train.yml:7: online_merging.densty: unknown key")) << unknown;
  const auto missing = error_message([&] { parse("  reference_model: nowhere\n"); });
  EXPECT_TRUE(contains(missing, "online_merging.reference_model: '")) << missing;
  const auto orphan = error_message([&] { parse("  base_model: reference\n"); });
  EXPECT_TRUE(contains(orphan, "online_merging.base_model: is set but online_merging.reference_model is not"))
      << orphan;
  const auto lora = error_message([&] { parse("  reference_model: reference\n", {"lora.enabled=true"}); });
  EXPECT_TRUE(contains(lora, "cannot be combined with lora.enabled")) << lora;
}

}  // namespace
}  // namespace ladle::trainer
