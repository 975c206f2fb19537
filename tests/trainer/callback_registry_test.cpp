// Callbacks named in a config's `callbacks:` list are made by the factories their libraries registered.
#include "trainer/callback_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST_F(CallbackRegistryTest, UnknownTypeNamesTheEntryTheNearestTypeAndTheRegisteredTypes) {
  const TrainConfig config = parse("  - {type: test_recorder}\n  - {type: test_recorde, decay: 0.9}\n");
  const auto message =
      ladle::testing::error_message([&] { Trainer(config, testing::tiny_model(), testing::tiny_data(4)); });
  EXPECT_TRUE(ladle::testing::contains(
      message, "train.yml:3: callbacks[1]: unknown callback type 'test_recorde' (did you mean 'test_recorder'?); "
               "registered types: "))
      << message;
  EXPECT_TRUE(ladle::testing::contains(message, "test_recorder")) << message;
  const auto far = ladle::testing::error_message([&] { make_config_callbacks(parse("  - {type: polyak}\n")); });
  EXPECT_TRUE(ladle::testing::contains(far, "unknown callback type 'polyak'; registered types: ")) << far;
}

TEST_F(CallbackRegistryTest, UnknownAveragingSubSectionNamesItsKey) {
  TrainConfig config = parse("  - {type: test_recorder}\n");
  config.averaging.section = {{"test_recordr", nlohmann::json::object()}};
  const auto message = ladle::testing::error_message([&] { make_config_callbacks(config); });
  EXPECT_TRUE(ladle::testing::contains(message, "averaging.test_recordr: unknown callback type "
                                                "'test_recordr' (did you mean 'test_recorder'?)"))
      << message;
}

TEST_F(CallbackRegistryTest, AveragingSubSectionsComeFirstAndTwoCallbacksOfOneNameAreRefused) {
  TrainConfig config = parse("  - {type: test_recorder, name: listed}\n");
  config.averaging.section = {{"test_recorder", {{"name", "averaged"}}}};
  std::vector<std::string> names;
  for (const auto& callback : make_config_callbacks(config)) names.push_back(callback->name());
  EXPECT_EQ(names, (std::vector<std::string>{"averaged", "listed"}));

  config.averaging.section = {{"test_recorder", nullptr}};  // `test_recorder:` without options: the defaults
  EXPECT_EQ(make_config_callbacks(config).front()->name(), "recorder");

  const TrainConfig twice = parse("  - {type: test_recorder}\n  - {type: test_recorder}\n");
  const auto message = ladle::testing::error_message([&] { make_config_callbacks(twice); });
  EXPECT_TRUE(ladle::testing::contains(message, "train.yml:3: callbacks[1]: a callback named 'recorder' is already "
                                                "turned on by train.yml:2: callbacks[0]"))
      << message;
}

TEST_F(CallbackRegistryTest, AFactoryReturningNoCallbackTurnsTheEntryOff) {
  register_callback_type("test_switchable", "off unless on: true (tests)", [](const CallbackSpec& spec, const TrainConfig&) {
    return spec.options.value("on", false) ? std::make_shared<EventRecorder>("switchable") : nullptr;
  });
  std::vector<std::string> names;
  for (const auto& callback :
       make_config_callbacks(parse("  - {type: test_switchable}\n  - {type: test_switchable, on: true}\n"))) {
    names.push_back(callback->name());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"switchable"}));
}

TEST_F(CallbackRegistryTest, TypesAreListedInTheOrderTheyWereFirstRegistered) {
  register_callback_type("test_first", "first (tests)", [](const CallbackSpec&, const TrainConfig&) {
    return std::make_shared<EventRecorder>("first");
  });
  register_callback_type("test_second", "second (tests)", [](const CallbackSpec&, const TrainConfig&) {
    return std::make_shared<EventRecorder>("second");
  });
  register_callback_type("test_first", "first, replaced (tests)", [](const CallbackSpec&, const TrainConfig&) {
    return std::make_shared<EventRecorder>("first");
  });
  std::vector<std::string> names;
  std::string description;
  for (const auto& type : registered_callback_types()) {
    names.push_back(type.name);
    if (type.name == "test_first") description = type.description;
  }
  const auto place = [&](const std::string& name) { return std::find(names.begin(), names.end(), name) - names.begin(); };
  EXPECT_LT(place("test_first"), place("test_second")) << "replacing a type keeps its place";
  EXPECT_EQ(description, "first, replaced (tests)");
}

TEST_F(CallbackRegistryTest, EntryWithoutATypeIsAConfigError) {
  const auto message = ladle::testing::error_message([&] { parse("  - {decay: 0.9}\n"); });
  EXPECT_TRUE(ladle::testing::contains(message, "train.yml:2: callbacks[0]: needs a type")) << message;
}

}  // namespace
}  // namespace ladle::trainer
