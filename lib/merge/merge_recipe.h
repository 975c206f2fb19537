// A multi-stage merge recipe (mergekit-multi): one file of several YAML documents separated by `---` lines, each a
// merge config. A document's `name` names its output, and a later document uses that output by writing the name
// where a model path goes (models[].model, base_model, slices[].sources[].model, slices[].base_model,
// tokenizer_source), as mergekit-multi substitutes names that equal a stage's (mergekit's multimerge script,
// patched_config):
//   name: math-code
//   merge_method: linear
//   models: [{model: ./math}, {model: ./code}]
//   ---
//   merge_method: slerp              # the last document is the final output; its name is optional
//   base_model: ./base
//   models: [{model: math-code}]
//   parameters: {t: 0.5}
// Stages run in file order [mergekit-multi sorts them by their dependencies]: a document may use only the stages
// before it, so the order in the file is the order of the work. The last stage is written to OUT_DIR, every other
// one to INTERMEDIATE_DIR/NAME (default OUT_DIR.stages/NAME: beside OUT_DIR, not in it, since OUT_DIR is replaced
// as a whole). Each stage's fingerprint (lib/io/stage_fingerprint.h) covers its document's text, the --seed, and
// each input: an earlier stage's fingerprint, or an outside model's files by name, size and modification time
// (hashing every input's bytes on every run would cost a full read; the checkpoints' checksum manifests are not
// written by every tool, mergekit's outputs and downloads have none). A stage whose output records the same
// fingerprint is reused, so editing the last stage redoes only it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lib/merge/merge_config.h"

namespace ladle::merge {

struct RecipeStage {
  MergeConfig config;                             // stage names in model paths resolved to the stages' outputs
  int document = 0;                               // 1-based position in the file
  int line = 0;                                   // the file's line where the document starts
  std::vector<std::size_t> inputs;                // the earlier stages whose outputs it reads
  std::optional<std::filesystem::path> output;    // none when the outputs' folders are not known (merge check)
  std::string fingerprint;

  // "stage NAME (document N at line L)"; NAME is "final" for an unnamed last stage.
  std::string label() const;
  // True when its output folder exists and records this fingerprint (kRecipeFingerprintFile).
  bool is_up_to_date() const;
};

struct MergeRecipe {
  std::filesystem::path path;
  std::vector<RecipeStage> stages;  // in file order, the order they run in; the last is the final output
};

// Where a recipe's stages are written: `output` (OUT_DIR) for the last, `intermediate_dir`/NAME for the others.
struct RecipeOutputs {
  std::filesystem::path output;
  std::filesystem::path intermediate_dir;
};

// The number of YAML documents in a config file (more than one: a recipe). Throws ladle::Error for a file that
// cannot be read or is not YAML.
std::size_t merge_document_count(const std::filesystem::path& path);

// OUT_DIR.stages, the default folder of the intermediate stages.
std::filesystem::path default_intermediate_dir(const std::filesystem::path& output);

// Reads a recipe: every document parsed (errors name the file's lines), every stage named except possibly the
// last, names unique and usable as folder names, and every name used only after the document that defines it
// (a use of a later stage or of its own stage is refused, naming the cycle it would make). `seed` is the seed of
// the random methods, part of each fingerprint. Without `outputs`, stages have no output folder and those that
// read an earlier stage cannot be checked against its tensors. Throws ladle::Error.
MergeRecipe load_merge_recipe(const std::filesystem::path& path, const std::optional<RecipeOutputs>& outputs,
                              std::uint64_t seed = 0);

}  // namespace ladle::merge
