// The options of the built-in averaging callbacks read by their schemas (callbacks/averaging_config.h): an unknown
// key gets a suggestion and the file's line, a value out of range the allowed range, a value from --set the --set
// argument, a `callbacks:` entry takes the same keys, and the key reference shows the real defaults (the ones
// issue 13 found the old header comment misstating: EMA decay 0.9999, SWA start 0 every 1, LAWA k 10 every 1).
#include "callbacks/averaging_config.h"

#include "callbacks/averaging_callbacks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/callback_registry.h"

namespace ladle::callbacks {
namespace {

using ladle::testing::error_message;
using trainer::TrainConfig;

class AveragingConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("averaging-config");
    trainer::testing::write_jsonl(dir_ / "train.jsonl", trainer::testing::tiny_records(4));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The message of making the callbacks of train.yml, whose first line is `section`'s, with `overrides`.
  std::string error_of(const std::string& section, const std::vector<std::string>& overrides = {}) const {
    return error_message([&] {
      const std::string sources =
          "model: {config: {hidden_size: 16}}\ntokenizer: {type: byte}\ndata: {train: train.jsonl}\n";
      trainer::make_config_callbacks(TrainConfig::from_yaml(section + sources, "train.yml", dir_, overrides));
    });
  }

  std::filesystem::path dir_;
};

TEST_F(AveragingConfigTest, UnknownKeyGetsASuggestionAndTheLine) {
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 0.9}\n  swa:\n    start_stpe: 2\n"),
            "train.yml:4: averaging.swa.start_stpe: unknown key (did you mean 'start_step'?); known keys: enabled, "
            "start_step, every, buffers, lr, evaluate, save_model, include, exclude");
  EXPECT_EQ(error_of("callbacks:\n  - {type: lawa, kk: 2}\n"),
            "train.yml:2: callbacks[0].kk: unknown key (did you mean 'k'?); known keys: enabled, k, start_step, every, "
            "storage, directory, buffers, scheme, evaluate, save_model, include, exclude");
}

TEST_F(AveragingConfigTest, ValueOutOfRangeNamesTheAllowedRange) {
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 1.5}\n"),
            "train.yml:2: averaging.ema.decay: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(error_of("averaging:\n  lawa:\n    k: 0\n"),
            "train.yml:3: averaging.lawa.k: expected a whole number >= 1, got 0");
  EXPECT_EQ(error_of("averaging: {swa: {every: 0}}\n"),
            "train.yml:1: averaging.swa.every: expected a whole number >= 1, got 0");
  EXPECT_EQ(error_of("averaging: {swa: {lr: {swa_lr: 0}}}\n"),
            "train.yml:1: averaging.swa.lr.swa_lr: expected a number > 0, got 0");
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 0.5, min_decay: 0.6}\n"),
            "train.yml:2: averaging.ema.min_decay: expected a number in [0, decay] = [0, 0.5], got 0.6");
  EXPECT_EQ(error_of("averaging: {lawa: {storage: tape}}\n"),
            "train.yml:1: averaging.lawa.storage: expected one of memory, disk, got 'tape'");
  EXPECT_EQ(error_of("averaging: {lawa: {scheme: 'ema:2'}}\n"),
            "train.yml:1: averaging.lawa.scheme: expected sma, ema:ALPHA (ALPHA in (0, 1]), wma or "
            "wsm:cosine|linear|sqrt, got 'ema:2'");
  EXPECT_EQ(error_of("callbacks:\n  - {type: ema, decay: 2}\n"),
            "train.yml:2: callbacks[0].decay: expected a number in [0, 1], got 2");
}

// The defect issue 13 names: the value came from --set, so the message names the --set argument, not the line of
// the file's averaging section.
TEST_F(AveragingConfigTest, ErrorOfASetValueNamesTheSetArgument) {
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 0.5}\n", {"averaging.ema.decay=2"}),
            "--set averaging.ema.decay=2: averaging.ema.decay: expected a number in [0, 1], got 2");
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 0.5}\n", {"averaging.ema.decy=0.9"}),
            "--set averaging.ema.decy=0.9: averaging.ema.decy: unknown key (did you mean 'decay'?); known keys: "
            "enabled, name, decay, warmup, warmup_gamma, warmup_power, min_decay, start_step, every, buffers, "
            "offload_to_cpu, half_life_steps, sigma_rel, gamma, evaluate, save_model, include, exclude");
  // A sub-section only --set gives is named by it too.
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 0.5}\n", {"averaging.swa.every=0"}),
            "--set averaging.swa.every=0: averaging.swa.every: expected a whole number >= 1, got 0");
  EXPECT_TRUE(ladle::testing::contains(error_of("averaging:\n  ema: {}\n", {"averaging.ewa.decay=0.9"}),
                                       "--set averaging.ewa.decay=0.9: averaging.ewa: unknown callback type 'ewa' "
                                       "(did you mean 'ema'?)"));
}

// A section built in C++ has no file: its messages start with the key.
TEST_F(AveragingConfigTest, SectionBuiltInCodeIsNamedByItsKey) {
  TrainConfig config;
  config.averaging.section = {{"ema", {{"decay", 2}}}};
  EXPECT_EQ(error_message([&] { trainer::make_config_callbacks(config); }),
            "the training config: averaging.ema.decay: expected a number in [0, 1], got 2");
  config.averaging.section = {{"ema", {{"decay", 0.5}, {"every", 3}}}, {"wise_ft", {{"alphas", {0, 1}}}}};
  EXPECT_EQ(trainer::make_config_callbacks(config).size(), 2u);
}

TEST(AveragingReference, ListsEveryTypesKeysWithTheRealDefaults) {
  const auto keys = averaging_reference();
  const auto find = [&](const std::string& key) {
    for (const auto& entry : keys) {
      if (entry.key == key) return entry;
    }
    ADD_FAILURE() << key << " is not in the reference";
    return config::KeyReference{};
  };
  EXPECT_TRUE(find("averaging.ema").section);
  EXPECT_EQ(find("averaging.ema.decay").default_value, 0.9999);
  EXPECT_EQ(find("averaging.ema.decay").allowed, "in [0, 1]");
  EXPECT_EQ(find("averaging.swa.start_step").default_value, 0);
  EXPECT_EQ(find("averaging.swa.every").default_value, 1);
  EXPECT_EQ(find("averaging.swa.every").allowed, ">= 1");
  EXPECT_TRUE(find("averaging.swa.lr").section);
  EXPECT_EQ(find("averaging.swa.lr.anneal").type, "one of cos, cosine, linear");
  EXPECT_EQ(find("averaging.lawa.k").default_value, 10);
  EXPECT_EQ(find("averaging.lawa.every").default_value, 1);
  EXPECT_EQ(find("averaging.lawa.scheme").default_value, "sma");
  EXPECT_EQ(find("averaging.soup.metric").default_value, "loss");
  EXPECT_EQ(find("averaging.wise_ft.enabled").default_value, true);
}

// A list of EMAs: each entry's errors name its index and line; names are required, valid and unique.
TEST_F(AveragingConfigTest, ListOfEmasNamesTheEntryOfEachError) {
  EXPECT_EQ(error_of("averaging:\n  ema:\n    - {name: slow, decay: 0.99}\n    - {decay: 0.9}\n"),
            "train.yml:4: averaging.ema[1].name: a required key is missing (every EMA of a list has one)");
  EXPECT_EQ(error_of("averaging:\n  ema:\n    - {name: slow, decay: 0.99}\n    - {name: slow, decay: 0.9}\n"),
            "train.yml:4: averaging.ema[1].name: expected a name no other EMA of the list has, got 'slow' again");
  EXPECT_EQ(error_of("averaging:\n  ema:\n    - {name: Slow, decay: 0.99}\n"),
            "train.yml:3: averaging.ema[0].name: expected [a-z0-9_-]+, got 'Slow'");
  EXPECT_EQ(error_of("averaging:\n  ema:\n    - {name: a, decay: 1.5}\n"),
            "train.yml:3: averaging.ema[0].decay: expected a number in [0, 1], got 1.5");
}

TEST_F(AveragingConfigTest, AnEmasDecayIsGivenByOneKeyAtMost) {
  EXPECT_EQ(error_of("averaging:\n  ema: {decay: 0.9, sigma_rel: 0.1}\n"),
            "train.yml:2: averaging.ema.sigma_rel: expected one of decay, half_life_steps, sigma_rel, gamma, got "
            "decay, sigma_rel");
  EXPECT_EQ(error_of("averaging:\n  ema:\n    - {name: a, gamma: 3, half_life_steps: 10}\n"),
            "train.yml:3: averaging.ema[0].gamma: expected one of decay, half_life_steps, sigma_rel, gamma, got "
            "half_life_steps, gamma");
  EXPECT_EQ(error_of("averaging:\n  ema: {sigma_rel: 0.1, warmup: true}\n"),
            "train.yml:2: averaging.ema.warmup: expected false for a power-function EMA (sigma_rel given)");
  EXPECT_TRUE(ladle::testing::contains(error_of("averaging:\n  swa: {exclude: ['(']}\n"),
                                       "averaging.swa.exclude: exclude pattern '(' is not a valid regular expression"));
  // 20,000 nested groups overflowed std::regex's recursive compiler's stack (a crash, not an error).
  const std::string nested = std::string(20000, '(') + "x" + std::string(20000, ')');
  EXPECT_TRUE(ladle::testing::contains(error_of("averaging:\n  ema: {include: ['" + nested + "']}\n"),
                                       "averaging.ema.include: include pattern '((((("));
}

// half_life_steps h with every e gives decay 0.5^(e/h): after h steps (h/e updates) a weight counts half.
TEST_F(AveragingConfigTest, HalfLifeAndSigmaRelBecomeTheEmasDecayAndGamma) {
  const auto callbacks = trainer::make_config_callbacks(TrainConfig::from_yaml(
      "averaging:\n  ema:\n    - {name: h, half_life_steps: 40, every: 4}\n    - {name: p, sigma_rel: 0.1}\n"
      "model: {config: {hidden_size: 16}}\ntokenizer: {type: byte}\ndata: {train: train.jsonl}\n",
      "train.yml", dir_, {}));
  ASSERT_EQ(callbacks.size(), 1u);
  const auto* ema = dynamic_cast<const EmaCallback*>(callbacks[0].get());
  ASSERT_NE(ema, nullptr);
  ASSERT_EQ(ema->outputs().size(), 2u);
  EXPECT_EQ(ema->outputs()[0].output, "ema-h");
  EXPECT_EQ(ema->outputs()[1].output, "ema-p");
  EXPECT_DOUBLE_EQ(ema->emas()[0].options.decay, std::pow(0.5, 0.1));
  ASSERT_TRUE(ema->emas()[1].options.power_gamma.has_value());
  EXPECT_NEAR(*ema->emas()[1].options.power_gamma, 6.94, 0.005);  // EDM2 section 3.1
}

}  // namespace
}  // namespace ladle::callbacks
