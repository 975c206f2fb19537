// Callbacks named in a config's `callbacks:` list are made by the factories their libraries registered.
#include "trainer/callback_registry.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"
#include "trainer/trainer.h"

namespace ladle::trainer {
namespace {

using testing::EventRecorder;

class CallbackRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("callback-registry");
    register_callback_type("test_recorder", "records events (tests)", [](const CallbackSpec& spec, const TrainConfig&) {
      return std::make_shared<EventRecorder>(spec.options.value("name", std::string("recorder")));
    });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A config whose model and data the tests replace with their own; its `callbacks:` list starts on line 2.
  TrainConfig parse(const std::string& callbacks) const {
    testing::write_jsonl(dir_ + "/train.jsonl", testing::tiny_records(2));
    const std::string sources =
        "model: {config: {hidden_size: 16}}\ntokenizer: {type: byte}\ndata: {train: train.jsonl}\n";
    TrainConfig config = TrainConfig::from_yaml("callbacks:\n" + callbacks + sources, "train.yml", dir_);
    config.output_dir = dir_ + "/out";
    config.threads = 1;
    config.max_steps = 1;
    return config;
  }
  std::string dir_;
};

TEST_F(CallbackRegistryTest, ConfigCallbacksAreMadeByTheirFactoriesInListOrder) {
  const TrainConfig config = parse("  - {type: test_recorder, name: first}\n  - {type: test_recorder, name: second}\n");
  ASSERT_EQ(config.callbacks.size(), 2u);
  EXPECT_EQ(config.callbacks[1].where, "train.yml:3: callbacks[1]");
  Trainer trainer(config, testing::tiny_model(), testing::tiny_data(4));
  std::vector<std::string> names;
  for (const auto& callback : trainer.callbacks_in_order()) names.push_back(callback->name());
  EXPECT_EQ(names, (std::vector<std::string>{"progress", "metrics_jsonl", "checkpoint", "first", "second"}));
}

TEST_F(CallbackRegistryTest, UnknownTypeNamesTheEntryAndTheRegisteredTypes) {
  const TrainConfig config = parse("  - {type: test_recorder}\n  - {type: emaa, decay: 0.9}\n");
  const auto message =
      ladle::testing::error_message([&] { Trainer(config, testing::tiny_model(), testing::tiny_data(4)); });
  EXPECT_TRUE(ladle::testing::contains(message, "train.yml:3: callbacks[1].type: unknown callback type 'emaa'"))
      << message;
  EXPECT_TRUE(ladle::testing::contains(message, "test_recorder")) << message;
}

TEST_F(CallbackRegistryTest, EntryWithoutATypeIsAConfigError) {
  const auto message = ladle::testing::error_message([&] { parse("  - {decay: 0.9}\n"); });
  EXPECT_TRUE(ladle::testing::contains(message, "train.yml:2: callbacks[0]: needs a type")) << message;
}

}  // namespace
}  // namespace ladle::trainer
