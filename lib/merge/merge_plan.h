// The merge plan: for every output tensor, which input tensors it is computed from and every parameter of the
// method resolved to a number for it. Planning reads only tensor metadata (names, shapes, dtypes), never data.
//
// The rules are mergekit's (mergekit/plan.py, mergekit/config.py):
// - `models` is one slice whose sources are the whole models; a base_model not listed among them is added as
//   a source. In every slice, the source that is the (slice's or top-level) base model becomes the method's
//   base input, with its per-model parameters resolved but none required; the others are its models.
// - Slices are laid end to end: output layer k of a slice whose sources cover [b, e) is built from source layer
//   b + k of every source. Within a slice a layer's relative position is t = k / (n − 1) (t = 1 when n = 1),
//   which is where layer gradients are evaluated.
// - Tensors outside the layer stack come from the reference model's names (the base model, else the first
//   slice's first source): input embeddings are merged over the first slice's sources at t = 0, everything
//   else (final norm, lm_head) over the last slice's sources at t = 1.
// - A parameter's value for a tensor is looked up in the slice source's `parameters` (per-model parameters
//   only; `models[i].parameters` in the `models` form), then the slice's, then the top-level ones; a level
//   whose filters all miss the tensor falls through to the next one; then the method's default. Filters match
//   substrings of the output tensor's name for method-wide parameters and of the input tensor's name for
//   per-model ones.
// - Vocabulary matrices (embed_tokens, lm_head) whose row counts differ are cut to the smallest count when no
//   tokenizer setting is given (mergekit's rectify_embed_sizes); with `tokenizer:` (or tokenizer_source) every
//   vocabulary matrix is remapped into the output vocabulary (output_vocabulary.h, vocabulary_remap.h).
// - Methods that need Fisher information (fisher) read each input model's `fisher` file: every merged tensor of
//   the model must be in it, with the model's shape. A base model is refused for them (Fisher merging has none).
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/merge/input_models.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_method.h"
#include "lib/merge/output_vocabulary.h"
#include "lib/merge/vocabulary_remap.h"

namespace ladle::merge {

// One input tensor: a tensor of one of the InputModels.
struct PlannedInput {
  std::size_t model = 0;  // index into InputModels
  std::string tensor;     // its name in that model
};

struct PlannedTensor {
  std::string name;                                            // output tensor name
  std::optional<PlannedInput> base;                            // the base model's tensor (methods that use one)
  std::vector<PlannedInput> models;                            // the other inputs, in config order
  std::vector<std::map<std::string, double>> model_parameters;  // per-model parameters, one map per input
  std::map<std::string, double> base_parameters;               // the base's own per-model parameters
  std::map<std::string, double> parameters;                    // method-wide parameters
  std::optional<std::int64_t> vocabulary_rows;                 // cut every input to its first rows
  // With a tokenizer setting, a vocabulary matrix: each input's rows rearranged into the output vocabulary.
  std::shared_ptr<const VocabularyRemap> vocabulary_remap;
  bool copy = false;  // a non-floating tensor (an index buffer, a mask): copied from the first input unmerged
  c10::ScalarType working_dtype = c10::kFloat;
  c10::ScalarType out_dtype = c10::kFloat;
  std::vector<std::int64_t> shape;   // output shape
  std::uint64_t input_bytes = 0;     // bytes read from the inputs (after cutting rows)
  std::uint64_t output_bytes = 0;    // bytes stored
  std::int64_t output_layer = -1;    // output layer index, -1 outside the layer stack
  bool needs_global_magnitude_thresholds = false;

  // The inputs in the order the executor reads them: the base (if any) first.
  std::vector<PlannedInput> all_inputs() const;
};

// One output slice, for the plan's summary.
struct PlannedSlice {
  std::int64_t first_output_layer = 0;
  std::int64_t layer_count = 0;
  struct Source {
    std::size_t model;
    std::int64_t begin;
    std::int64_t end;
  };
  std::vector<Source> sources;
};

struct MergePlan {
  const MergeMethod* method = nullptr;
  // Owns `method` when the planner wraps the registered one: fisher with the models' Fisher files bound to it
  // (lib/merge/method_with_fishers.h). Null otherwise.
  std::shared_ptr<const MergeMethod> method_owner;
  std::vector<PlannedTensor> tensors;  // in output order: pre-layer tensors, layers, post-layer tensors
  std::vector<PlannedSlice> slices;
  std::int64_t output_layers = 0;
  std::size_t reference_model = 0;                  // index into InputModels: names, config.json
  std::optional<nlohmann::json> output_config;      // config.json for the output, when the reference has one
  std::optional<std::filesystem::path> tokenizer_folder;  // where tokenizer files are copied from
  bool tokenizer_required = false;                  // a tokenizer setting was given: missing files are an error
  std::optional<OutputVocabulary> vocabulary;       // the output vocabulary, with a tokenizer setting
  std::optional<std::string> chat_template;         // the chat template written into tokenizer_config.json
  std::vector<std::string> warnings;

  std::uint64_t output_bytes() const;
  std::uint64_t input_bytes() const;
  bool needs_global_magnitude_thresholds() const;
  // A human-readable summary: method, models and their roles, slices, tensor count and sizes, the range of
  // every resolved parameter (`ladle merge --dry-run`).
  std::string summary(const InputModels& models) const;
};

// Builds the plan; throws ladle::Error naming the config file, line, key, model and tensor for anything that
// stops the merge (unknown method or parameter, a missing required parameter, a missing tensor, mismatched
// shapes, a layer range out of bounds, a model that could not be opened). check_merge reports the same
// problems, all at once and with advice.
MergePlan plan_merge(const MergeConfig& config, const InputModels& models);

}  // namespace ladle::merge
