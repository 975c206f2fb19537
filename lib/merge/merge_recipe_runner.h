// Checking and running a merge recipe's stages (merge_recipe.h), in file order, each as `ladle merge` runs one
// config: the pre-merge check, the plan, the atomic write (merged_model_writer.h). A stage whose output records
// its current fingerprint is reused ("stage NAME: up to date, reused"); any other is merged, replacing an output
// folder an earlier run of a recipe wrote (it records a fingerprint) and, without --overwrite, refusing any other
// existing folder.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/merge/merge_check.h"
#include "lib/merge/merge_recipe.h"
#include "lib/merge/merged_model_writer.h"

namespace ladle::merge {

struct StageCheck {
  std::size_t stage = 0;                   // index into the recipe's stages
  std::optional<MergeCheckReport> report;  // none: it reads an earlier stage's output, not written yet
};

struct RecipeCheck {
  std::vector<StageCheck> stages;
  bool has_errors() const;
  // Each stage's heading and report (or why it is checked only when it runs), for people.
  std::string text(const MergeRecipe& recipe) const;
};

// Checks every stage whose inputs exist now: the outside models, and the earlier stages' outputs already written.
// A stage reading an output not written yet is checked, with the same check, just before it is merged.
RecipeCheck check_merge_recipe(const MergeRecipe& recipe);

struct RecipeRunStats {
  std::size_t merged = 0;           // stages merged
  std::size_t reused = 0;           // stages up to date, reused
  MergeExecutionStats totals;       // over the merged stages
};

struct RecipeRunOptions {
  MergedModelWriteOptions write;  // write.overwrite: replace an existing folder that records no fingerprint
  std::string device;             // --device: where every stage's math runs; empty: each stage's device key
};

// Runs the stages in order. `require_clean` gets each stage's check report before the stage is merged and throws
// to stop the recipe (a stage's inputs exist only once the stages before it have run).
RecipeRunStats run_merge_recipe(const MergeRecipe& recipe, const RecipeRunOptions& options,
                                const std::function<void(const RecipeStage&, const MergeCheckReport&)>& require_clean);

}  // namespace ladle::merge
