// The callback types of the callbacks library, registered without the program calling anything: a config turns
// them on through `averaging:` or `callbacks:` alike, the Trainer makes them (no CLI involved), the two spellings
// give the same weights as the callback built by hand, and bad options name the entry and the key.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "callbacks/averaging_callbacks.h"
#include "lib/io/checkpoint_reader.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/callback_registry.h"
#include "trainer/trainer.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;
using trainer::TrainConfig;

class BuiltinCallbackTypesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("builtin-callback-types");
    trainer::testing::write_jsonl(dir_ / "train.jsonl", trainer::testing::tiny_records(8));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `section` starts on line 1 of train.yml; the model and data are the tests' own, 4 steps on one thread.
  TrainConfig parse(const std::string& section, const std::string& run) const {
    const std::string sources =
        "model: {config: {hidden_size: 16}}\ntokenizer: {type: byte}\ndata: {train: train.jsonl}\n";
    TrainConfig config = TrainConfig::from_yaml(section + sources, "train.yml", dir_);
    config.output_dir = dir_ / run;
    config.threads = 1;
    config.max_steps = 4;
    config.batch_size = 2;
    config.optimizer.lr = 0.01;
    config.evaluation.at_end = false;
    config.checkpoint.at_end = false;
    return config;
  }

  // Trains the tiny model under `config` (plus `extra`) and returns the names of its callbacks in dispatch order.
  static std::vector<std::string> train(const TrainConfig& config,
                                        const std::shared_ptr<trainer::Callback>& extra = nullptr) {
    trainer::Trainer trainer(config, trainer::testing::tiny_model(), trainer::testing::tiny_data(8));
    if (extra) trainer.add_callback(extra);
    std::vector<std::string> names;
    for (const auto& callback : trainer.callbacks_in_order()) names.push_back(callback->name());
    trainer.train();
    return names;
  }

  static std::vector<std::string> names_of(const TrainConfig& config) {
    std::vector<std::string> names;
    for (const auto& callback : trainer::make_config_callbacks(config)) names.push_back(callback->name());
    return names;
  }

  static NamedTensors load(const std::filesystem::path& folder) { return io::CheckpointReader(folder).load_all(); }

  std::filesystem::path dir_;
};

TEST(BuiltinCallbackTypes, AreRegisteredInTheOrderAveragingMakesThem) {
  std::vector<std::string> names;
  for (const auto& type : trainer::registered_callback_types()) names.push_back(type.name);
  std::vector<std::string> builtins;
  for (const auto& name : names) {
    if (name == "ema" || name == "swa" || name == "lawa" || name == "posthoc" || name == "soup" || name == "wise_ft") {
      builtins.push_back(name);
    }
  }
  EXPECT_EQ(builtins, (std::vector<std::string>{"ema", "swa", "lawa", "posthoc", "soup", "wise_ft"}));
}

// The same EMA from `callbacks:`, from `averaging:` and built by hand: the same callbacks, and ema/ bit for bit.
TEST_F(BuiltinCallbackTypesTest, CallbacksEntryAndAveragingSubSectionGiveTheSameEmaAsTheCallbackItself) {
  const TrainConfig listed = parse("callbacks:\n  - {type: ema, decay: 0.7, every: 2}\n", "listed");
  const TrainConfig averaged = parse("averaging:\n  ema: {decay: 0.7, every: 2}\n", "averaged");
  const TrainConfig by_hand = parse("", "by-hand");
  EmaOptions options;
  options.decay = 0.7;
  options.schedule.every = 2;

  const auto listed_names = train(listed);
  EXPECT_EQ(listed_names, train(averaged));
  EXPECT_EQ(listed_names, train(by_hand, std::make_shared<EmaCallback>(options)));
  EXPECT_EQ(std::count(listed_names.begin(), listed_names.end(), "ema"), 1);

  const NamedTensors ema = load(listed.output_dir / "ema");
  trainer::testing::expect_bitwise_equal(ema, load(averaged.output_dir / "ema"));
  trainer::testing::expect_bitwise_equal(ema, load(by_hand.output_dir / "ema"));
  const NamedTensors final_weights = load(listed.output_dir / "final");
  EXPECT_FALSE(at::equal(ema.at("model.layers.0.mlp.up_proj.weight"),
                         final_weights.at("model.layers.0.mlp.up_proj.weight")))
      << "ema/ should hold the average, not the final weights";
}

TEST_F(BuiltinCallbackTypesTest, EveryBuiltinTypeIsMadeFromEitherSpelling) {
  // Written out of order: `averaging:` makes them in registration order, `callbacks:` in list order.
  const TrainConfig averaged = parse("averaging: {wise_ft: {}, soup: {}, lawa: {}, swa: {}, ema: {}}\n", "a");
  EXPECT_EQ(names_of(averaged), (std::vector<std::string>{"ema", "swa", "lawa", "soup", "wise_ft"}));
  const TrainConfig listed =
      parse("callbacks: [{type: wise_ft}, {type: soup}, {type: lawa}, {type: swa}, {type: ema}]\n", "b");
  EXPECT_EQ(names_of(listed), (std::vector<std::string>{"wise_ft", "soup", "lawa", "swa", "ema"}));
  const TrainConfig swa_kept = parse("averaging: {swa: {save_model: false}}\n", "c");
  const auto callbacks = trainer::make_config_callbacks(swa_kept);
  ASSERT_EQ(callbacks.size(), 1u);
  const auto* swa = dynamic_cast<const SwaCallback*>(callbacks.front().get());
  ASSERT_NE(swa, nullptr);
  EXPECT_FALSE(swa->outputs().front().options.save_model);
}

TEST_F(BuiltinCallbackTypesTest, EnabledFalseTurnsACallbackOff) {
  EXPECT_EQ(names_of(parse("averaging: {ema: {enabled: false}, swa: {}}\n", "a")), (std::vector<std::string>{"swa"}));
  EXPECT_TRUE(names_of(parse("callbacks: [{type: lawa, enabled: false}]\n", "b")).empty());
}

TEST_F(BuiltinCallbackTypesTest, BadOptionsNameTheEntryAndTheKey) {
  const auto message = [&](const std::string& section) {
    return error_message([&] { trainer::make_config_callbacks(parse(section, "bad")); });
  };
  EXPECT_TRUE(contains(message("callbacks:\n  - {type: ema, decy: 0.9}\n"), "train.yml:2: callbacks[0].decy: unknown key"));
  EXPECT_TRUE(contains(message("averaging:\n  ema: {decay: 1.5}\n"),
                       "train.yml:2: averaging.ema.decay: expected a number in [0, 1]"));
  EXPECT_TRUE(contains(message("averaging:\n  lawa: {storage: tape}\n"),
                       "averaging.lawa.storage: expected one of memory, disk, got 'tape'"));
  EXPECT_TRUE(contains(message("averaging: {wise_ft: {alphas: all}}\n"),
                       "averaging.wise_ft.alphas: expected a list of numbers, got 'all'"));
  EXPECT_TRUE(contains(message("averaging: {wise_ft: {alphas: []}}\n"),
                       "averaging.wise_ft.alphas: expected a non-empty list of numbers"));
  EXPECT_TRUE(contains(message("averaging: {ema: 0.9}\n"), "train.yml:1: averaging.ema: expected a mapping"));
  EXPECT_TRUE(contains(message("averaging: {emma: {}}\n"),
                       "train.yml:1: averaging.emma: unknown callback type 'emma' (did you mean 'ema'?)"));
}

}  // namespace
}  // namespace ladle::callbacks
