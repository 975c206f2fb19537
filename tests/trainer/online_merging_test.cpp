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
#include "tests/support/tiny_run.h"
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

merge::OnlineMergeOptions merge_options(merge::OnlineMergeOperator op, double density, double reference_weight,
                                        merge::OnlineSignElection election = merge::OnlineSignElection::sum) {
  merge::OnlineMergeOptions options;
  options.op = op;
  options.density = density;
  options.reference_weight = reference_weight;
  options.election = election;
  options.clip = 0;
  return options;
}

// The parameters after each of `steps` steps of online merging around a `kind` optimizer, with seeded gradients
// (θ_0 first).
std::vector<at::Tensor> trajectory(OptimizerKind kind, const merge::OnlineMergeOptions& options,
                                   const at::Tensor& reference, std::int64_t steps, std::int64_t merge_every = 1) {
  at::manual_seed(1);
  Fixture fixture;
  std::vector<at::Tensor> values = {fixture.values().clone()};
  OnlineMergingOptimizer online(make_optimizer(optimizer_config(kind), fixture.parameters, 30), fixture.parameters,
                                reference, options, merge_every, 5);
  for (std::int64_t step = 0; step < steps; ++step) {
    fixture.set_gradients(step);
    online.step();
    values.push_back(fixture.values().clone());
  }
  return values;
}

// The same without online merging.
std::vector<at::Tensor> plain_trajectory(OptimizerKind kind, std::int64_t steps) {
  at::manual_seed(1);
  Fixture fixture;
  std::vector<at::Tensor> values = {fixture.values().clone()};
  const auto optimizer = make_optimizer(optimizer_config(kind), fixture.parameters, 30);
  for (std::int64_t step = 0; step < steps; ++step) {
    fixture.set_gradients(step);
    optimizer->step();
    values.push_back(fixture.values().clone());
  }
  return values;
}

// θ_T − θ_0.
at::Tensor movement(OptimizerKind kind, const merge::OnlineMergeOptions& options, const at::Tensor& reference,
                    std::int64_t steps) {
  const auto values = trajectory(kind, options, reference, steps);
  return values.back() - values.front();
}

double cosine(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) * b.to(at::kDouble)).sum().item<double>() /
         (a.to(at::kDouble).norm().item<double>() * b.to(at::kDouble).norm().item<double>());
}

// Nothing merged (OnDARE at density 1, or OnTIES electing over the weighted operands, with α = 0) is the plain
// optimizer, whether merging every step or every third.
TEST(OnlineMergingOptimizer, DensityOneWithoutReferenceIsThePlainOptimizerBitForBit) {
  const at::Tensor reference = at::randn({35});
  for (const OptimizerKind kind : {OptimizerKind::adamw, OptimizerKind::sgd}) {
    const auto plain = plain_trajectory(kind, 6);
    for (const auto& options : {merge_options(merge::OnlineMergeOperator::ondare, 1.0, 0.0),
                                merge_options(merge::OnlineMergeOperator::onties, 1.0, 0.0,
                                              merge::OnlineSignElection::weighted)}) {
      for (const std::int64_t merge_every : {1, 3}) {
        const auto merged = trajectory(kind, options, reference, 6, merge_every);
        EXPECT_TRUE(at::equal(plain.back(), merged.back()))
            << optimizer_kind_name(kind) << " " << merge::online_merge_operator_name(options.op) << " every "
            << merge_every;
      }
    }
  }
}

// With the reference alone (α = 1) each step applies τ̂ instead of the update: after T steps θ_T − θ_0 = T·τ_ref at
// density 1 (OnTIES electing over the weighted operands, where only τ̂ has weight).
TEST(OnlineMergingOptimizer, ReferenceWeightAloneMovesAlongTheReferenceTaskVector) {
  const at::Tensor reference = at::randn({35}) * 0.01;
  for (const auto& options :
       {merge_options(merge::OnlineMergeOperator::ondare, 1.0, 1.0),
        merge_options(merge::OnlineMergeOperator::onties, 1.0, 1.0, merge::OnlineSignElection::weighted)}) {
    const at::Tensor moved = movement(OptimizerKind::adamw, options, reference, 20);
    EXPECT_GT(cosine(moved, reference), 1 - 1e-6);
    // Each step rounds θ + τ once: 20 roundings of |θ| ~ 1 stay below 1e-5.
    EXPECT_TRUE(at::allclose(moved, reference * 20, 1e-5, 1e-5)) << merge::online_merge_operator_name(options.op);
  }
}

// OnDARE sparsifies τ_ref once, before training (as the authors' init_ref_param_diff does): with α = 1 every step
// adds the same τ̂ = DARE_p(τ), so after T steps each entry has moved by 0 or T·τ/p, and by T·clip at most.
TEST(OnlineMergingOptimizer, OnDareSparsifiesTheReferenceOnce) {
  const at::Tensor reference = at::full({35}, 0.01f);
  const at::Tensor moved =
      movement(OptimizerKind::sgd, merge_options(merge::OnlineMergeOperator::ondare, 0.5, 1.0), reference, 10);
  const at::Tensor kept = moved.abs() > 0.1;  // 10·0.02 = 0.2 where kept, 0 where dropped
  EXPECT_TRUE(at::allclose(at::where(kept, moved, 0.0f), kept.to(at::kFloat) * 0.2, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(at::where(kept, 0.0f, moved), at::zeros_like(moved), 0, 1e-6));
  EXPECT_GT(kept.sum().item<std::int64_t>(), 5);
  EXPECT_LT(kept.sum().item<std::int64_t>(), 30);
  merge::OnlineMergeOptions clipped = merge_options(merge::OnlineMergeOperator::ondare, 0.5, 1.0);
  clipped.clip = 0.015;
  EXPECT_LE(movement(OptimizerKind::sgd, clipped, reference, 10).abs().max().item<float>(), 0.15f + 1e-5f);
}

// OnTIES at density p with the reference alone adds α·trim_p(τ) per tensor at every step.
TEST(OnlineMergingOptimizer, OnTiesWithTheReferenceAloneAddsTheTrimmedReference) {
  const at::Tensor reference = at::randn({35});
  const at::Tensor moved = movement(
      OptimizerKind::adamw,
      merge_options(merge::OnlineMergeOperator::onties, 0.4, 1.0, merge::OnlineSignElection::weighted), reference, 4);
  // Per tensor: weight (30 entries) keeps its 12 largest |τ|, bias (5) its 2 largest.
  at::Tensor trimmed = at::zeros_like(reference);
  for (const auto& [offset, numel, kept] : {std::tuple<int, int, int>{0, 30, 12}, {30, 5, 2}}) {
    const at::Tensor part = reference.narrow(0, offset, numel);
    const at::Tensor top = std::get<1>(part.abs().topk(kept));
    trimmed.narrow(0, offset, numel).index_copy_(0, top, part.index_select(0, top));
  }
  EXPECT_TRUE(at::allclose(moved, trimmed * 4.0, 1e-5, 1e-5));
}

// merge_every = 3 with the authors' OnTIES at α = 0 and a dominant τ_ref: steps 1 and 2 are the plain optimizer's,
// and step 3 replaces the three updates' sum D by D where its sign agrees with τ_ref's and 0 elsewhere.
TEST(OnlineMergingOptimizer, MergeEveryKMergesTheSumOfTheLastKUpdates) {
  const at::Tensor reference = at::randn({35}) * 100;
  const auto plain = plain_trajectory(OptimizerKind::adamw, 3);
  const auto merged = trajectory(OptimizerKind::adamw, merge_options(merge::OnlineMergeOperator::onties, 1.0, 0.0),
                                 reference, 3, 3);
  EXPECT_TRUE(at::equal(merged[1], plain[1]));
  EXPECT_TRUE(at::equal(merged[2], plain[2]));
  const at::Tensor sum = plain[3] - plain[0];
  const at::Tensor expected = plain[0] + at::where(sum.sign() == reference.sign(), sum, 0.0f);
  EXPECT_TRUE(at::allclose(merged[3], expected, 0, 1e-6));
  EXPECT_FALSE(at::allclose(merged[3], plain[3], 0, 1e-6));  // some entries disagree with τ_ref's signs
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
    c.online_merging.op = merge::online_merge_operator_from_name(op);
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

// With merge_every 3 the split at step 4 falls between merges: the accumulated update is checkpointed.
TEST_F(OnlineMergingTrainingTest, ResumingGivesBitIdenticalWeights) {
  for (const auto& [op, merge_every] : {std::pair<std::string, int>{"ondare", 1}, {"onties", 1}, {"onties", 3}}) {
    const std::string name = op + std::to_string(merge_every);
    TrainConfig c = config(dir_ + "/straight-" + name, op);
    c.online_merging.merge_every = merge_every;
    const auto straight = run(c, -1, false);
    c.output_dir = dir_ + "/split-" + name;
    run(c, 4, false);
    const auto resumed = run(c, -1, true);
    testing::expect_bitwise_equal(straight, resumed);
    TrainConfig plain = config(dir_ + "/plain-" + name, op);
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
      "  reference_model: reference\n  operator: onties\n  density: 0.3\n  reference_weight: 0.01\n  seed: 4\n"
      "  rescale: true\n  clip: 0.5\n  merge_every: 4\n",
      {"online_merging.sign_election=weighted"});
  EXPECT_TRUE(config.online_merging.enabled());
  EXPECT_EQ(config.online_merging.reference_model, std::filesystem::path(dir_) / "reference");
  EXPECT_TRUE(config.online_merging.base_model.empty());
  EXPECT_EQ(config.online_merging.op, merge::OnlineMergeOperator::onties);
  EXPECT_DOUBLE_EQ(config.online_merging.density, 0.3);
  EXPECT_DOUBLE_EQ(config.online_merging.reference_weight, 0.01);
  EXPECT_TRUE(config.online_merging.rescale);
  EXPECT_DOUBLE_EQ(config.online_merging.clip, 0.5);
  EXPECT_EQ(config.online_merging.election, merge::OnlineSignElection::weighted);
  EXPECT_EQ(config.online_merging.merge_every, 4);
  EXPECT_EQ(config.online_merging.seed, 4u);
  EXPECT_EQ(config.to_json().at("online_merging").at("operator"), "onties");
}

TEST_F(OnlineMergingConfigTest, BadValuesAreRejectedWithTheirKeyAndLine) {
  const auto density = error_message([&] { parse("  reference_model: reference\n  density: 0\n"); });
  EXPECT_TRUE(contains(density, "train.yml:7: online_merging.density: expected a number in (0, 1], got 0")) << density;
  const auto weight = error_message([&] { parse("  reference_model: reference\n  reference_weight: 1.5\n"); });
  EXPECT_TRUE(contains(weight, "online_merging.reference_weight: expected a number in [0, 1], got 1.5")) << weight;
  const auto every = error_message([&] { parse("  reference_model: reference\n  merge_every: 0\n"); });
  EXPECT_TRUE(contains(every, "online_merging.merge_every: expected a whole number >= 1, got 0")) << every;
  const auto clip = error_message([&] { parse("  reference_model: reference\n  clip: -1\n"); });
  EXPECT_TRUE(contains(clip, "online_merging.clip: expected a number >= 0, got -1")) << clip;
  const auto election = error_message([&] { parse("  reference_model: reference\n  sign_election: mean\n"); });
  EXPECT_TRUE(contains(election, "online_merging.sign_election: expected one of sum, weighted, got 'mean'"))
      << election;
  const auto op = error_message([&] { parse("  reference_model: reference\n  operator: dare\n"); });
  EXPECT_TRUE(contains(op, "online_merging.operator: expected one of ondare, onties, got 'dare'")) << op;
  const auto unknown = error_message([&] { parse("  reference_model: reference\n  densty: 0.5\n"); });
  EXPECT_TRUE(contains(unknown, "train.yml:7: online_merging.densty: unknown key (did you mean 'density'?)")) << unknown;
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
