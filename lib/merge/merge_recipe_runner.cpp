#include "lib/merge/merge_recipe_runner.h"

#include <sstream>
#include <system_error>

#include "lib/log/log.h"
#include "lib/merge/input_models.h"
#include "lib/merge/merge_plan.h"
#include "lib/model/device.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

// A stage's output exists when its folder records a fingerprint: the writer adds it before the folder appears.
bool is_written(const RecipeStage& stage) {
  std::error_code error;
  return stage.output && fs::is_regular_file(*stage.output / kRecipeFingerprintFile, error);
}

// The first earlier stage it reads whose output is not written yet, if any.
const RecipeStage* missing_input(const MergeRecipe& recipe, const RecipeStage& stage) {
  for (std::size_t used : stage.inputs) {
    if (!is_written(recipe.stages[used])) return &recipe.stages[used];
  }
  return nullptr;
}

}  // namespace

bool RecipeCheck::has_errors() const {
  for (const auto& stage : stages) {
    if (stage.report && stage.report->has_errors()) return true;
  }
  return false;
}

std::string RecipeCheck::text(const MergeRecipe& recipe) const {
  std::ostringstream text;
  for (const auto& check : stages) {
    const RecipeStage& stage = recipe.stages[check.stage];
    text << "== " << stage.label() << (stage.is_up_to_date() ? ": up to date" : "") << "\n";
    if (check.report) {
      text << check.report->text();
    } else {
      text << "reads the output of " << missing_input(recipe, stage)->label()
           << ", not written yet: checked when it runs, before it is merged\n";
    }
  }
  return text.str();
}

RecipeCheck check_merge_recipe(const MergeRecipe& recipe) {
  RecipeCheck check;
  for (std::size_t i = 0; i < recipe.stages.size(); ++i) {
    const RecipeStage& stage = recipe.stages[i];
    StageCheck result{i, std::nullopt};
    if (!missing_input(recipe, stage)) result.report = check_merge(stage.config, InputModels(stage.config));
    check.stages.push_back(std::move(result));
  }
  return check;
}

RecipeRunStats run_merge_recipe(const MergeRecipe& recipe, const RecipeRunOptions& options,
                                const std::function<void(const RecipeStage&, const MergeCheckReport&)>& require_clean) {
  RecipeRunStats stats;
  for (const RecipeStage& stage : recipe.stages) {
    const std::string name = stage.config.name.empty() ? "final" : stage.config.name;
    if (stage.is_up_to_date()) {
      LADLE_LOG(info) << "stage " << name << ": up to date, reused (" << stage.output->string() << ")";
      ++stats.reused;
      continue;
    }
    const InputModels models(stage.config);
    require_clean(stage, check_merge(stage.config, models));
    const MergePlan plan = plan_merge(stage.config, models);
    MergedModelWriteOptions stage_options = options.write;
    stage_options.execution.device = options.device.empty() ? model::resolve_device(stage.config.device, "device")
                                                            : model::resolve_device(options.device, "--device");
    stage_options.recipe_fingerprint = stage.fingerprint;
    // An output a recipe wrote (it records a fingerprint) is the recipe's to replace; any other folder is not.
    stage_options.overwrite = options.write.overwrite || is_written(stage);
    LADLE_LOG(info) << "stage " << name << ": merging " << stage.label() << " into " << stage.output->string();
    const MergeExecutionStats merged = write_merged_model(stage.config, plan, models, *stage.output, stage_options);
    ++stats.merged;
    stats.totals.tensors += merged.tensors;
    stats.totals.bytes_read += merged.bytes_read;
    stats.totals.bytes_written += merged.bytes_written;
    stats.totals.seconds += merged.seconds;
  }
  return stats;
}

}  // namespace ladle::merge
