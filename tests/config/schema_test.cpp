// The config schema mechanism on a small struct: reading with declared defaults, unknown keys with a suggestion,
// type and range errors naming the file and line or the --set argument, paths, the JSON dump, the range check of a
// struct filled in from C++, and the generated key reference.
#include "lib/config/schema.h"

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <optional>

#include "lib/config/suggestion.h"
#include "tests/support/test_helpers.h"

namespace ladle::config {
namespace {

using ladle::testing::contains;
using ladle::testing::error_message;

enum class Anneal { cos, linear };

struct LrOptions {
  double start = 0.1;
  Anneal anneal = Anneal::cos;
};

struct EmaOptions {
  double decay = 0.9999;
  std::int64_t every = 1;
  std::size_t keep = 2;
  std::filesystem::path directory;
  std::vector<std::string> names = {"q_proj"};
  std::array<double, 2> betas = {0.9, 0.99};
  std::string backend = "auto";
  LrOptions lr;
  std::optional<LrOptions> warmup;
};

const Schema<LrOptions>& lr_schema() {
  static const auto schema = Schema<LrOptions>("the learning rate")
                                 .field("start", &LrOptions::start, above(0), "first rate")
                                 .choice("anneal", &LrOptions::anneal,
                                         Choices<Anneal>{{"cos", Anneal::cos}, {"linear", Anneal::linear}}, "shape");
  return schema;
}

const Schema<EmaOptions>& ema_schema() {
  static const auto schema =
      Schema<EmaOptions>("an average")
          .field("decay", &EmaOptions::decay, in_closed(0, 1), "weight of the old average per update")
          .field("every", &EmaOptions::every, at_least(1), "update every N optimizer steps")
          .field("keep", &EmaOptions::keep, "averages kept")
          .field("directory", &EmaOptions::directory, "where averages go")
          .field("names", &EmaOptions::names, "module names")
          .field("betas", &EmaOptions::betas, in_closed_open(0, 1), "two decays")
          .choice("backend", &EmaOptions::backend, Choices<std::string>{{"auto", "auto"}, {"gloo", "gloo"}}, "how")
          .section("lr", &EmaOptions::lr, lr_schema())
          .section("warmup", &EmaOptions::warmup, lr_schema());
  return schema;
}

EmaOptions read(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return ema_schema().read(ConfigSource(text, "ema.yml", "/configs", overrides));
}

TEST(ConfigSchema, ValuesLandInTheirFieldsAndKeysNotGivenKeepTheDeclaredDefaults) {
  const EmaOptions options = read("decay: 0.5\nnames: [a, b]\nbetas: [0.8, 0.95]\nlr: {anneal: linear}\n");
  EXPECT_DOUBLE_EQ(options.decay, 0.5);
  EXPECT_EQ(options.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(options.betas[0], 0.8);
  EXPECT_DOUBLE_EQ(options.betas[1], 0.95);
  EXPECT_EQ(options.lr.anneal, Anneal::linear);
  EXPECT_DOUBLE_EQ(options.lr.start, 0.1);
  EXPECT_EQ(options.every, 1);
  EXPECT_EQ(options.keep, 2u);
  EXPECT_EQ(options.backend, "auto");
  EXPECT_FALSE(options.warmup.has_value());
}

TEST(ConfigSchema, UnknownKeyNamesTheLineASuggestionAndTheKnownKeys) {
  const auto message = error_message([] { read("decay: 0.5\nlr:\n  start: 0.2\n  anneel: cos\n"); });
  EXPECT_EQ(message, "ema.yml:4: lr.anneel: unknown key (did you mean 'anneal'?); known keys: start, anneal");
  const auto far = error_message([] { read("colour: red\n"); });
  EXPECT_TRUE(contains(far, "ema.yml:1: colour: unknown key; known keys: decay, every")) << far;
}

TEST(ConfigSchema, ValueOutOfRangeNamesTheAllowedRange) {
  EXPECT_EQ(error_message([] { read("every: 2\ndecay: 1.5\n"); }),
            "ema.yml:2: decay: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(error_message([] { read("every: 0\n"); }), "ema.yml:1: every: expected a whole number >= 1, got 0");
  EXPECT_EQ(error_message([] { read("keep: -1\n"); }), "ema.yml:1: keep: expected a whole number >= 0, got -1");
  EXPECT_EQ(error_message([] { read("lr:\n  start: 0\n"); }), "ema.yml:2: lr.start: expected a number > 0, got 0");
  EXPECT_EQ(error_message([] { read("betas: [0.5, 1.0]\n"); }),
            "ema.yml:1: betas[1]: expected a number in [0, 1), got 1.0");
}

TEST(ConfigSchema, WrongTypeIsShownAsWritten) {
  EXPECT_EQ(error_message([] { read("every: often\n"); }), "ema.yml:1: every: expected a whole number, got 'often'");
  EXPECT_EQ(error_message([] { read("names: q_proj\n"); }),
            "ema.yml:1: names: expected a list of strings, got 'q_proj'");
  EXPECT_EQ(error_message([] { read("betas: [0.5]\n"); }),
            "ema.yml:1: betas: expected a list of 2 numbers, got a list");
  EXPECT_EQ(error_message([] { read("lr: 3\n"); }), "ema.yml:1: lr: expected a mapping of keys, got '3'");
  EXPECT_EQ(error_message([] { read("decay: 0.5\ndecay: 0.6\n"); }), "ema.yml:2: decay: given twice");
  EXPECT_EQ(error_message([] { read("every: \"4\"\n"); }),
            "ema.yml:1: every: expected a whole number, got '4' (quoted, so a string: write it without quotes)");
}

// A key that is no name reached yaml-cpp's as<std::string>(), whose conversion error escaped: `ladle train` and
// `ladle merge check` said "internal error: yaml-cpp: error at line 2, column 1: bad conversion".
TEST(ConfigSchema, KeyThatIsNoNameIsRefusedWithItsLine) {
  EXPECT_EQ(error_message([] { read("decay: 0.5\n[a, b]: 1\n"); }), "ema.yml:2: expected a key name, got a list as a key");
  EXPECT_EQ(error_message([] { read("lr:\n  ? {start: 1}\n  : 2\n"); }),
            "ema.yml:2: expected a key name, got a mapping as a key");
  EXPECT_EQ(error_message([] { read("", {"lr={[a]: 1}"}); }), "--set lr={[a]: 1}: expected a key name, got a list as a key");
}

// An alias inside its own anchor made `ladle train` recurse until the stack overflowed (a segmentation fault);
// aliases of aliases expand exponentially.
TEST(ConfigSchema, AliasesWithoutEndOrOfExponentialSizeAreRefused) {
  EXPECT_EQ(error_message([] { read("lr: &x {start: *x}\n"); }),
            "ema.yml:1: nested deeper than 64 levels (an alias inside its own anchor?)");
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i) {
    const std::string previous = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + previous + ", " + previous + ", " +
              previous + ", " + previous + ", " + previous + ", " + previous + ", " + previous + ", " + previous + "]\n";
  }
  EXPECT_TRUE(contains(error_message([&] { read(laughs); }), "expands to more than 1048576 values (aliases of aliases?)"));
  EXPECT_DOUBLE_EQ(read("lr: &x {start: 0.5}\nwarmup: *x\n").warmup->start, 0.5);  // an alias elsewhere is fine
}

TEST(ConfigSchema, UnknownChoiceListsTheNamesAndSuggestsTheNearest) {
  EXPECT_EQ(error_message([] { read("lr: {anneal: linea}\n"); }),
            "ema.yml:1: lr.anneal: expected one of cos, linear, got 'linea' (did you mean 'linear'?)");
  EXPECT_EQ(error_message([] { read("backend: mpi\n"); }), "ema.yml:1: backend: expected one of auto, gloo, got 'mpi'");
}

TEST(ConfigSchema, ErrorOfASetValueNamesTheSetArgument) {
  EXPECT_EQ(error_message([] { read("decay: 0.5\n", {"decay=2"}); }),
            "--set decay=2: decay: expected a number in [0, 1], got 2");
  EXPECT_EQ(error_message([] { read("", {"lr.strat=1"}); }),
            "--set lr.strat=1: lr.strat: unknown key (did you mean 'start'?); known keys: start, anneal");
  EXPECT_EQ(error_message([] { read("", {"lr"}); }),
            "--set lr: expected key=value with a dotted key, e.g. optimizer.lr=3e-4");
}

TEST(ConfigSchema, SetValuesReplaceFileValuesAndCreateSections) {
  const EmaOptions options = read("decay: 0.5\n", {"decay=0.25", "warmup.start=0.3"});
  EXPECT_DOUBLE_EQ(options.decay, 0.25);
  ASSERT_TRUE(options.warmup.has_value());
  EXPECT_DOUBLE_EQ(options.warmup->start, 0.3);
  EXPECT_EQ(options.warmup->anneal, Anneal::cos);
}

TEST(ConfigSchema, RelativePathsResolveAgainstTheFileFolderOrTheCurrentDirectoryForSet) {
  EXPECT_EQ(read("directory: runs/../avg\n").directory, std::filesystem::path("/configs/avg"));
  EXPECT_EQ(read("directory: /abs/avg\n").directory, std::filesystem::path("/abs/avg"));
  EXPECT_EQ(read("", {"directory=avg"}).directory, std::filesystem::current_path() / "avg");
}

TEST(ConfigSchema, JsonDumpHoldsEveryKeyWithChoicesByName) {
  EmaOptions options;
  options.directory = "/tmp/avg";
  options.warmup = LrOptions{0.5, Anneal::linear};
  const nlohmann::json expected = {
      {"decay", 0.9999},
      {"every", 1},
      {"keep", 2},
      {"directory", "/tmp/avg"},
      {"names", {"q_proj"}},
      {"betas", {0.9, 0.99}},
      {"backend", "auto"},
      {"lr", {{"start", 0.1}, {"anneal", "cos"}}},
      {"warmup", {{"start", 0.5}, {"anneal", "linear"}}},
  };
  EXPECT_EQ(ema_schema().to_json(options), expected);
  EXPECT_TRUE(ema_schema().to_json(EmaOptions{}).at("warmup").is_null());
}

TEST(ConfigSchema, CheckOfAStructFromCodeNamesTheKeyAndTheRange) {
  EXPECT_NO_THROW(ema_schema().check(EmaOptions{}));
  EmaOptions options;
  options.lr.start = -1;
  try {
    ema_schema().check(options, "averaging.ema");
    FAIL() << "no error";
  } catch (const ConfigError& error) {
    EXPECT_EQ(error.key(), "averaging.ema.lr.start");
    EXPECT_STREQ(error.what(), "averaging.ema.lr.start: expected a number > 0, got -1");
  }
  options = {};
  options.backend = "mpi";
  EXPECT_EQ(error_message([&] { ema_schema().check(options); }), "backend: expected one of auto, gloo, got 'mpi'");
}

TEST(ConfigSchema, LocatedErrorNamesTheLineOfTheKeyOrOfItsNearestEnclosingKey) {
  const ConfigSource source("decay: 0.5\nlr:\n  start: 0.2\n", "ema.yml", "/configs", {"every=3"});
  EXPECT_EQ(source.where("lr.start"), "ema.yml:3");
  EXPECT_EQ(source.where("lr.anneal"), "ema.yml:2");
  EXPECT_EQ(source.where("every"), "--set every=3");
  EXPECT_EQ(source.where("keep"), "ema.yml");
  EXPECT_EQ(std::string(source.located(ConfigError("lr.start", "too fast")).what()), "ema.yml:3: lr.start: too fast");
}

TEST(ConfigSchema, ReferenceListsEveryKeyWithTypeRangeDefaultAndHelp) {
  const auto keys = ema_schema().reference();
  ASSERT_EQ(keys.size(), 13u);  // 7 keys, then 2 sections: a heading and 2 keys each
  EXPECT_EQ(keys[0].key, "decay");
  EXPECT_EQ(keys[0].type, "a number");
  EXPECT_EQ(keys[0].allowed, "in [0, 1]");
  EXPECT_EQ(keys[0].default_value, 0.9999);
  EXPECT_EQ(keys[2].allowed, ">= 0");  // size_t: never negative, though not declared
  EXPECT_TRUE(keys[7].section);
  EXPECT_EQ(keys[7].key, "lr");
  EXPECT_EQ(keys[9].key, "lr.anneal");
  EXPECT_EQ(keys[9].type, "one of cos, linear");
  EXPECT_EQ(keys[9].default_value, "cos");
  const std::string markdown = reference_markdown(keys);
  EXPECT_TRUE(
      contains(markdown, "| `decay` | a number | `0.9999` | in [0, 1] | weight of the old average per update |"))
      << markdown;
  EXPECT_TRUE(contains(markdown, "| `names` | a list of strings | `[q_proj]` |  | module names |")) << markdown;
  EXPECT_TRUE(contains(markdown, "\n## `lr`\n\nthe learning rate\n")) << markdown;
  EXPECT_TRUE(contains(reference_text(keys), "  every  (a whole number >= 1; default: 1)\n      update every N"))
      << reference_text(keys);
}

// keys_of: a nested struct's keys read, checked, dumped and listed beside the outer ones.
struct Schedule {
  std::int64_t start_step = 0;
  std::int64_t every = 1;
};

struct Swa {
  bool enabled = true;
  Schedule schedule;
};

const Schema<Swa>& swa_schema() {
  static const auto schedule = Schema<Schedule>("")
                                   .field("start_step", &Schedule::start_step, at_least(0), "first step")
                                   .field("every", &Schedule::every, at_least(1), "interval");
  static const auto schema =
      Schema<Swa>("swa").field("enabled", &Swa::enabled, "on").keys_of(&Swa::schedule, schedule);
  return schema;
}

TEST(ConfigSchema, KeysOfANestedStructSitBesideTheOuterKeys) {
  Swa swa;
  swa_schema().read(YamlValue{YAML::Load("{enabled: false, every: 5}"), "swa", ConfigSource("", "swa.yml", "/")},
                    swa);
  EXPECT_FALSE(swa.enabled);
  EXPECT_EQ(swa.schedule.every, 5);
  EXPECT_EQ(swa.schedule.start_step, 0);
  EXPECT_EQ(swa_schema().to_json(swa), (nlohmann::json{{"enabled", false}, {"start_step", 0}, {"every", 5}}));
  swa.schedule.every = 0;
  EXPECT_EQ(error_message([&] { swa_schema().check(swa, "swa"); }), "swa.every: expected a whole number >= 1, got 0");
  const auto keys = swa_schema().reference("averaging.swa");
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys[1].key, "averaging.swa.start_step");
  EXPECT_EQ(keys[2].allowed, ">= 1");
  EXPECT_EQ(error_message([] { swa_schema().read(ConfigSource("evry: 2\n", "swa.yml", "/")); }),
            "swa.yml:1: evry: unknown key (did you mean 'every'?); known keys: enabled, start_step, every");
}

// Options kept as JSON (a callback's) read back through YAML as the same values, and named by the config they came
// from: an override that added a key under a section the file lacks is where that section came from.
TEST(ConfigSchema, JsonOptionsReadAsTheirYamlAndSectionsAddedBySetNameTheSetArgument) {
  const nlohmann::json json = {{"decay", 0.1}, {"every", 3}, {"names", {"a", "b"}}, {"lr", {{"anneal", "linear"}}}};
  EXPECT_EQ(yaml_to_json(json_to_yaml(json)), json);
  const ConfigSource source("averaging:\n  ema: {decay: 0.5}\n", "train.yml", "/configs",
                            {"averaging.swa.every=0", "averaging.ema.every=0"});
  EXPECT_EQ(source.where("averaging.swa"), "--set averaging.swa.every=0");
  EXPECT_EQ(source.where("averaging.ema"), "train.yml:2");
  EXPECT_EQ(source.where("averaging.ema.every"), "--set averaging.ema.every=0");
  EXPECT_EQ(source.where("averaging.lawa"), "train.yml:1");
}

TEST(ConfigSuggestion, EditDistanceAndNearMisses) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_name("wieght_decay", {"lr", "weight_decay"}), "weight_decay");
  EXPECT_EQ(closest_name("colour", {"lr", "weight_decay"}), "");
}

}  // namespace
}  // namespace ladle::config
