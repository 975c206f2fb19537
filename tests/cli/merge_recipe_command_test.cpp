// `ladle merge RECIPE.yml OUT_DIR` and `ladle merge check RECIPE.yml` on multi-stage recipes (mergekit-multi):
// the stages of a recipe against the same configs merged one by one, reuse of up-to-date stages, the errors of a
// bad recipe, and what an interrupted recipe leaves behind.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <string>

#include "lib/io/checkpoint_reader.h"
#include "lib/io/checkpoint_writer.h"
#include "lib/merge/merged_model_writer.h"
#include "tests/support/command_runner.h"
#include "tests/support/interrupted_command.h"
#include "tests/support/random_checkpoints.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;
using ladle::testing::CommandResult;
using ladle::testing::RandomLlamaOptions;
using ladle::testing::run_ladle;

// Three stages: ab = linear(a, b); abd = task_arithmetic over base c of ab and d; the final one linear(abd, a).
const std::string kStageAb =
    "name: ab\nmerge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 0.3}\n"
    "  - model: b\n    parameters: {weight: 0.7}\n";
const std::string kStageAbd =
    "name: abd\nmerge_method: task_arithmetic\nbase_model: c\nmodels:\n  - model: ab\n    parameters: {weight: 0.5}\n"
    "  - model: d\n    parameters: {weight: 0.25}\n";
std::string final_stage(double weight) {
  return "merge_method: linear\nmodels:\n  - model: abd\n    parameters: {weight: " + std::to_string(weight) +
         "}\n  - model: a\n    parameters: {weight: 1.0}\n";
}

class MergeRecipeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ladle::testing::make_temp_dir("merge-recipe");
    for (const auto& [name, seed] : {std::pair<const char*, int>{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}) {
      RandomLlamaOptions options;
      options.seed = static_cast<std::uint64_t>(seed);
      models_.emplace(name, ladle::testing::write_random_llama(dir_ / name, options));
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path recipe(const std::string& yaml) { return ladle::testing::write_text_file(dir_ / "recipe.yml", yaml); }
  CommandResult merge(const std::string& yaml, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"merge", recipe(yaml).string(), (dir_ / "out").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_ladle(args);
  }
  // An error that stops the recipe before anything is written.
  std::string refused(const std::string& yaml) {
    const CommandResult result = merge(yaml);
    EXPECT_NE(result.exit_code, 0) << result.out;
    EXPECT_FALSE(fs::exists(dir_ / "out"));
    EXPECT_FALSE(fs::exists(dir_ / "out.stages"));
    return result.err;
  }
  const at::Tensor& input(const std::string& model, const std::string& tensor) const {
    return models_.at(model).at(tensor);
  }
  fs::file_time_type written_at(const fs::path& stage) const {
    return fs::last_write_time(stage / kRecipeFingerprintFile);
  }

  fs::path dir_;
  std::map<std::string, NamedTensors> models_;
};

TEST_F(MergeRecipeCliTest, ThreeStagesEqualTheStagesMergedByHand) {
  const CommandResult result = merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // By hand: each stage as its own config, the earlier outputs named by their folders.
  ladle::testing::write_text_file(dir_ / "1.yml", kStageAb);
  std::string second = kStageAbd;
  second.replace(second.find("model: ab"), 9, "model: hand-ab");
  ladle::testing::write_text_file(dir_ / "2.yml", second);
  std::string third = final_stage(0.6);
  third.replace(third.find("model: abd"), 10, "model: hand-abd");
  ladle::testing::write_text_file(dir_ / "3.yml", third);
  for (const auto& [config, out] : {std::pair<const char*, const char*>{"1.yml", "hand-ab"}, {"2.yml", "hand-abd"},
                                    {"3.yml", "hand-final"}}) {
    const CommandResult step = run_ladle({"--quiet", "merge", (dir_ / config).string(), (dir_ / out).string()});
    ASSERT_EQ(step.exit_code, 0) << step.err;
  }
  const io::CheckpointReader recipe_output(dir_ / "out");
  const io::CheckpointReader by_hand(dir_ / "hand-final");
  ASSERT_EQ(recipe_output.names(), by_hand.names());
  for (const auto& name : by_hand.names()) {
    EXPECT_TRUE(at::equal(recipe_output.tensor(name), by_hand.tensor(name))) << name;
    // The closed form: ab = 0.3a + 0.7b, abd = c + 0.5(ab − c) + 0.25(d − c), out = (0.6·abd + a) / 1.6.
    const at::Tensor ab = 0.3 * input("a", name) + 0.7 * input("b", name);
    const at::Tensor abd = input("c", name) + 0.5 * (ab - input("c", name)) + 0.25 * (input("d", name) - input("c", name));
    const at::Tensor expected = (0.6 * abd + input("a", name)) / 1.6;
    EXPECT_TRUE(at::allclose(recipe_output.tensor(name), expected, 1e-5, 1e-5)) << name;
  }
  // Intermediates live beside OUT_DIR, each named for its stage, each its config's document alone.
  EXPECT_TRUE(at::equal(io::CheckpointReader(dir_ / "out.stages" / "ab").tensor("lm_head.weight"),
                        io::CheckpointReader(dir_ / "hand-ab").tensor("lm_head.weight")));
  EXPECT_EQ(ladle::testing::read_text_file(dir_ / "out.stages" / "abd" / "mergekit_config.yml"), kStageAbd);
}

TEST_F(MergeRecipeCliTest, EditingTheLastStageRedoesOnlyIt) {
  ASSERT_EQ(merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6)).exit_code, 0);
  const auto ab_time = written_at(dir_ / "out.stages" / "ab");
  const auto abd_time = written_at(dir_ / "out.stages" / "abd");
  const at::Tensor before = io::CheckpointReader(dir_ / "out").tensor("lm_head.weight");

  const CommandResult again = merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.2));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("stage ab: up to date, reused"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("stage abd: up to date, reused"), std::string::npos) << again.err;
  EXPECT_NE(again.out.find("in 1 stage(s), 2 up to date and reused"), std::string::npos) << again.out;
  EXPECT_EQ(written_at(dir_ / "out.stages" / "ab"), ab_time);
  EXPECT_EQ(written_at(dir_ / "out.stages" / "abd"), abd_time);
  const at::Tensor after = io::CheckpointReader(dir_ / "out").tensor("lm_head.weight");
  const io::CheckpointReader abd(dir_ / "out.stages" / "abd");
  EXPECT_TRUE(at::allclose(after, (0.2 * abd.tensor("lm_head.weight") + input("a", "lm_head.weight")) / 1.2, 1e-5,
                           1e-5));
  EXPECT_FALSE(at::equal(before, after));
}

TEST_F(MergeRecipeCliTest, EditingTheFirstStageRedoesEveryStageAfterIt) {
  ASSERT_EQ(merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6)).exit_code, 0);
  const auto abd_time = written_at(dir_ / "out.stages" / "abd");
  std::string edited = kStageAb;
  edited.replace(edited.find("0.7"), 3, "0.9");
  const CommandResult again = merge(edited + "---\n" + kStageAbd + "---\n" + final_stage(0.6), {"--quiet"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("in 3 stage(s), 0 up to date"), std::string::npos) << again.out;
  EXPECT_NE(written_at(dir_ / "out.stages" / "abd"), abd_time);
}

TEST_F(MergeRecipeCliTest, AnUnchangedRecipeIsReusedWhole) {
  const std::string yaml =
      kStageAb + "---\nmerge_method: linear\nparameters: {weight: 1}\nmodels: [{model: ab}, {model: a}]\n";
  ASSERT_EQ(merge(yaml, {"--quiet"}).exit_code, 0);
  const CommandResult again = merge(yaml);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("stage final: up to date, reused"), std::string::npos) << again.err;
}

TEST_F(MergeRecipeCliTest, AnExistingFolderTheRecipeDidNotWriteNeedsOverwrite) {
  fs::create_directories(dir_ / "out");
  const std::string yaml = kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6);
  const CommandResult refused_run = merge(yaml, {"--quiet"});
  EXPECT_NE(refused_run.exit_code, 0);
  EXPECT_NE(refused_run.err.find("out"), std::string::npos) << refused_run.err;
  EXPECT_EQ(merge(yaml, {"--quiet", "--overwrite"}).exit_code, 0);
}

TEST_F(MergeRecipeCliTest, IntermediateDirOptionPlacesTheStages) {
  const CommandResult result = merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6),
                                     {"--quiet", "--intermediate-dir", (dir_ / "work").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "work" / "ab" / kRecipeFingerprintFile));
  EXPECT_TRUE(fs::is_regular_file(dir_ / "work" / "abd" / kRecipeFingerprintFile));
  EXPECT_FALSE(fs::exists(dir_ / "out.stages"));
}

TEST_F(MergeRecipeCliTest, UnknownStageIsNamedWithItsDocumentAndLine) {
  const std::string error = refused(kStageAb + "---\nmerge_method: linear\nmodels:\n  - model: ab\n  - model: abx\n");
  EXPECT_NE(error.find("recipe.yml:12: model 'abx' (document 2 at line 9) is neither a stage of this recipe "
                       "(stages: ab)"),
            std::string::npos)
      << error;
}

TEST_F(MergeRecipeCliTest, DuplicateNameIsRefused) {
  const std::string error = refused(kStageAb + "---\n" + kStageAb + "---\n" + final_stage(0.5));
  EXPECT_NE(error.find("document 2 at line 9 is named 'ab', as document 1 at line 1 is"), std::string::npos) << error;
}

TEST_F(MergeRecipeCliTest, CycleIsRefusedNamingItsStages) {
  const std::string first = "name: x\nmerge_method: linear\nmodels: [{model: a}, {model: y}]\n";
  const std::string second = "name: y\nmerge_method: linear\nmodels: [{model: b}, {model: x}]\n";
  const std::string error = refused(first + "---\n" + second + "---\n" + final_stage(0.5));
  EXPECT_NE(error.find("the stages form a cycle, each using the next one's output: x -> y -> x (document 1 at line 1, "
                       "document 2 at line 5)"),
            std::string::npos)
      << error;
}

TEST_F(MergeRecipeCliTest, OwnOutputIsACycle) {
  const std::string error = refused("name: x\nmerge_method: linear\nmodels: [{model: a}, {model: x}]\n---\n" +
                                    final_stage(0.5));
  EXPECT_NE(error.find("cycle, each using the next one's output: x -> x"), std::string::npos) << error;
}

TEST_F(MergeRecipeCliTest, UseOfALaterStageIsRefused) {
  const std::string error =
      refused("merge_method: linear\nname: first\nmodels: [{model: a}, {model: ab}]\n---\n" + kStageAb +
              "---\nmerge_method: linear\nmodels: [{model: first}, {model: ab}]\n");
  EXPECT_NE(error.find("document 1 at line 1 uses stage 'ab', which document 2 at line 5 defines after it"),
            std::string::npos)
      << error;
}

TEST_F(MergeRecipeCliTest, UnnamedStageBeforeTheLastIsRefused) {
  const std::string error = refused("merge_method: linear\nmodels: [{model: a}, {model: b}]\n---\n" + kStageAb +
                                    "---\n" + final_stage(0.5));
  EXPECT_NE(error.find("document 1 at line 1 has no 'name'"), std::string::npos) << error;
}

TEST_F(MergeRecipeCliTest, ConfigErrorsNameTheLineInTheFile) {
  const std::string error =
      refused(kStageAb + "---\nname: abd\nmerge_method: linear\nmodels: [{model: ab}]\nweigth: 2\n");
  EXPECT_NE(error.find("recipe.yml:12: weigth"), std::string::npos) << error;
}

TEST_F(MergeRecipeCliTest, CheckReportsEveryStage) {
  recipe(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6));
  const CommandResult result = run_ladle({"merge", "check", (dir_ / "recipe.yml").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("== stage ab (document 1 at line 1)"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("== stage abd (document 2 at line 9)\nreads the output of stage ab (document 1 at line 1), "
                            "not written yet: checked when it runs"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("== stage final (document 3"), std::string::npos) << result.out;
}

TEST_F(MergeRecipeCliTest, CheckWithTheIntermediateDirChecksStagesAlreadyWritten) {
  ASSERT_EQ(merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6), {"--quiet"}).exit_code, 0);
  const CommandResult result = run_ladle(
      {"merge", "check", (dir_ / "recipe.yml").string(), "--intermediate-dir", (dir_ / "out.stages").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("== stage ab (document 1 at line 1): up to date\n"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("not written yet"), std::string::npos) << result.out;
}

TEST_F(MergeRecipeCliTest, CheckFindsAProblemInAnyCheckableStage) {
  RandomLlamaOptions wider;
  wider.hidden = 32;
  ladle::testing::write_random_llama(dir_ / "wide", wider);
  // Stage x runs second, but is checked before the first runs since its inputs exist.
  const std::string yaml = kStageAb +
                           "---\nname: x\nmerge_method: linear\nparameters: {weight: 1}\nmodels: [{model: a}, {model: wide}]\n"
                           "---\nmerge_method: linear\nparameters: {weight: 1}\nmodels: [{model: x}, {model: ab}]\n";
  const CommandResult result = merge(yaml, {"--quiet"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("stage x (document 2 at line 9)"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir_ / "out.stages" / "ab")) << "a stage ran before every stage was checked";
}

// The atomic writer leaves nothing complete-looking when a stage stops half-way: here an input of the second stage
// holds a NaN, found only while its tensors are merged.
TEST_F(MergeRecipeCliTest, StageStoppedHalfWayLeavesNoCompleteLookingOutput) {
  NamedTensors poisoned;
  for (const auto& [name, tensor] : models_.at("d")) {
    at::Tensor copy = tensor.clone();
    if (name == "model.norm.weight") copy.index_put_({3}, std::numeric_limits<float>::quiet_NaN());
    poisoned.insert(name, copy);
  }
  io::save_checkpoint(dir_ / "d-nan", poisoned, *io::CheckpointReader(dir_ / "d").config());
  std::string second = kStageAbd;
  second.replace(second.find("model: d"), 8, "model: d-nan");
  const CommandResult result = merge(kStageAb + "---\n" + second + "---\n" + final_stage(0.6), {"--quiet"});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("NaN"), std::string::npos) << result.err;
  EXPECT_TRUE(fs::is_regular_file(dir_ / "out.stages" / "ab" / kRecipeFingerprintFile));
  EXPECT_FALSE(fs::exists(dir_ / "out.stages" / "abd"));
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  for (const auto& entry : fs::directory_iterator(dir_ / "out.stages")) {
    EXPECT_EQ(entry.path().filename(), "ab") << entry.path();
  }
  // The fixed recipe reuses the stage that was complete.
  const CommandResult fixed = merge(kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6));
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_NE(fixed.err.find("stage ab: up to date, reused"), std::string::npos) << fixed.err;
}

// SIGKILL at moments spread over a recipe's run (fractions of an uninterrupted run's time, so that the kills land
// inside the stages whatever the machine's load): after each, every folder that looks like a stage's output holds
// its fingerprint and all its tensors, and the runs that follow continue from what is complete, ending with the
// output of the uninterrupted run.
TEST_F(MergeRecipeCliTest, KilledRecipeLeavesOnlyCompleteStagesOrPartialLeftovers) {
  const std::string yaml = kStageAb + "---\n" + kStageAbd + "---\n" + final_stage(0.6);
  const auto start = std::chrono::steady_clock::now();
  const CommandResult fresh = run_ladle({"--quiet", "merge", recipe(yaml).string(), (dir_ / "fresh").string()});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  const auto full = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);

  const std::vector<std::string> args = {"--quiet", "merge", (dir_ / "recipe.yml").string(), (dir_ / "out").string()};
  const std::size_t tensors = models_.at("a").size();
  std::size_t stages_seen = 0;
  // Kills at 3/8 .. 7/8 of the uninterrupted run's time, then (on a loaded machine, where a run can take several
  // times as long) later ones, until a kill comes after some stage is complete: a kill after the run has ended
  // leaves the finished output, which is checked like any stage.
  for (const int eighths : {3, 4, 5, 6, 7, 8, 12, 16, 32}) {
    if (eighths > 7 && stages_seen > 0) break;
    ladle::testing::run_ladle_killed_after(args, full * eighths / 8);
    std::vector<fs::path> outputs = {dir_ / "out"};
    if (fs::exists(dir_ / "out.stages")) {
      for (const auto& entry : fs::directory_iterator(dir_ / "out.stages")) outputs.push_back(entry.path());
    }
    for (const auto& folder : outputs) {
      // Besides the stages' folders: the writers' "<name>.lock" files and "<name>.partial-<pid>" leftovers.
      if (!fs::is_directory(folder) || folder.filename().string().find(".partial-") != std::string::npos) continue;
      EXPECT_TRUE(fs::is_regular_file(folder / kRecipeFingerprintFile)) << folder << " after " << eighths << "/8";
      EXPECT_EQ(io::CheckpointReader(folder).names().size(), tensors) << folder;
      ++stages_seen;
    }
  }
  EXPECT_GT(stages_seen, 0u) << "no kill came after a stage was complete";
  ASSERT_EQ(run_ladle(args).exit_code, 0);
  const io::CheckpointReader resumed(dir_ / "out"), uninterrupted(dir_ / "fresh");
  for (const auto& name : uninterrupted.names()) {
    EXPECT_TRUE(at::equal(resumed.tensor(name), uninterrupted.tensor(name))) << name;
  }
}

}  // namespace
}  // namespace ladle::merge
