// A mergekit merge configuration (the YAML `mergekit-yaml` reads), parsed as hostile input.
//
// Schema and semantics follow mergekit's MergeConfiguration (mergekit/config.py) and its README:
//   merge_method: linear            # required
//   base_model: ./base              # optional; a local HF folder or .safetensors file
//   models:                         # either `models` ...
//     - model: ./a
//       parameters: {weight: 0.3}
//       fisher: ./a/fisher.safetensors  # merge_method fisher only: the model's diagonal Fisher (ladle's key)
//   slices:                         # ... or `slices` (frankenmerges, per-slice layer ranges)
//     - sources:
//         - model: ./a
//           layer_range: [0, 16]
//           parameters: {...}
//           fisher: ./a/fisher.safetensors
//       parameters: {...}
//       base_model: ./base          # optional per-slice base
//   parameters: {...}               # method-wide and default per-model values
//   dtype: bfloat16                 # working dtype of the math
//   out_dtype: bfloat16             # stored dtype of the result
//   tokenizer:                      # the output vocabulary (mergekit's TokenizerConfig, mergekit/tokenizer/config.py)
//     source: union                 # base | union (the default) | model:PATH (a model path as in `models`)
//     tokens:                       # per-token embedding rows (mergekit's TokenEmbeddingConfig)
//       <|im_start|>: {source: model:./b, force: true}
//       <|im_end|>: {source: {kind: model_token, model: ./b, token: </s>}}   # or token_id: N
//       <pad>: {source: {kind: zero}}
//     pad_to_multiple_of: 64        # output rows rounded up (config.json's vocab_size follows)
//   tokenizer_source: base          # the older form of tokenizer.source (giving both is an error)
//   chat_template: chatml           # a name (chat_template_choice.h), auto, or a literal Jinja template
//   device: cpu                     # ladle's: where the math runs (cpu, cuda, cuda:N, auto); --device overrides
//   name: stage-a                   # a stage's name in a multi-document recipe (merge_recipe.h)
// A parameter value is a number or boolean, a list of numbers (a "gradient", interpolated over the layers of a
// slice), or a list of {filter, value} entries matched on tensor names (a `value` with no filter is the fallback).
// The keys are declared once (lib/config/schema.h) in merge_config.cpp: unknown keys (with a "did you mean"), wrong
// types and malformed entries are errors naming the file, the line and the key path, in the format of every config
// reader ("merge.yml:7: models[1].parameters.weight: expected a finite number or a boolean, got 'heavy'"). Which
// parameters a method takes, and their ranges, are the method's (merge_method.h), checked by the planner.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/config/key_reference.h"

namespace ladle::merge {

// Limits that keep a hostile file from exhausting memory or time; far above any real configuration.
inline constexpr std::uintmax_t kMaxConfigBytes = 1 << 20;
inline constexpr std::size_t kMaxListEntries = 4096;

// mergekit's ScalarOrGradient: one number, or numbers spread evenly over a slice's layers.
struct ScalarOrGradient {
  std::vector<double> values;  // one entry: a scalar; more: a gradient
  bool interpolate = true;     // false for a list of booleans, which mergekit steps through instead
  // The value at relative position t in [0, 1] (0: first layer of the slice, 1: last), as mergekit's
  // evaluate_setting: with n values, x = t·(n−1), i = ⌊x⌋, the result is (1−f)·values[i] + f·values[i+1] with
  // f = x − i (values[n−1] at the end), or values[i] when not interpolating.
  double at(double t) const;
};

// One entry of a parameter setting. A setting written without filters is one entry with no filter.
struct FilteredValue {
  std::optional<std::string> filter;  // matches a tensor whose name contains it; none or "*" matches any
  ScalarOrGradient value;
  int line = 0;                       // 1-based line of the entry in the config file
};

struct ParameterSetting {
  std::vector<FilteredValue> entries;  // tried in order; the first match wins
  int line = 0;                        // 1-based line of the parameter's key
  // The value for this tensor at relative layer position t; nullopt when no entry's filter matches (the
  // lookup then falls through to the next level, as in mergekit's ConfigReader.parameter).
  std::optional<double> evaluate(const std::string& tensor_name, double t) const;
};

using ParameterSettings = std::map<std::string, ParameterSetting>;

// A model as the config names it.
struct ModelReference {
  std::string name;             // as written, for messages
  std::filesystem::path path;   // resolved: absolute, or relative to the config file's folder
  int line = 0;

  // Two references name the same model when their resolved paths are equal.
  bool operator==(const ModelReference& other) const { return path == other.path; }
  bool operator!=(const ModelReference& other) const { return !(*this == other); }
};

// `models[i]` (no layer range: the whole model) or `slices[i].sources[j]`.
struct InputSource {
  ModelReference model;
  std::optional<std::pair<std::int64_t, std::int64_t>> layer_range;  // [begin, end) layers; slices only
  ParameterSettings parameters;
  // `fisher`: the model's diagonal Fisher information, tensors named as the model's (a .safetensors file such as
  // the trainer's fisher.safetensors, or a folder holding one); read only by merge_method fisher. Not a mergekit
  // key: mergekit has no Fisher merging.
  std::optional<ModelReference> fisher;
  std::string key_path;  // "models[1]" or "slices[0].sources[1]", for messages
  int line = 0;
};

struct OutputSlice {
  std::vector<InputSource> sources;
  ParameterSettings parameters;
  std::optional<ModelReference> base_model;  // overrides the top-level base_model for this slice
  std::string key_path;                      // "slices[0]"
  int line = 0;
};

// Where the output's tokenizer comes from (mergekit's TokenizerConfig.source).
struct TokenizerSource {
  enum class Kind {
    base,             // the base model's tokenizer (else the first model's); tokens other models add are dropped
    union_of_models,  // the base vocabulary, then every model's tokens it lacks (lib/merge/output_vocabulary.h)
    model,            // `model:PATH`: that folder's tokenizer
  };
  Kind kind = Kind::union_of_models;    // mergekit's default for a `tokenizer:` block without a source
  std::optional<ModelReference> model;  // Kind::model
  int line = 0;
};

// Where one token's embedding row comes from (mergekit's TokenEmbeddingConfig.source).
struct TokenRowSource {
  enum class Kind {
    zero,         // {kind: zero}: a row of zeros
    model,        // model:PATH: that model's row of this token
    model_token,  // {kind: model_token, model: PATH, token: T | token_id: N}: that model's row of another token
  };
  Kind kind = Kind::zero;
  std::optional<ModelReference> model;    // model, model_token
  std::optional<std::string> token;       // model_token: the model's token whose row is taken ...
  std::optional<std::int64_t> token_id;   // ... or its id (exactly one of the two)
  int line = 0;
};

// One entry of `tokenizer.tokens` (mergekit's TokenEmbeddingConfig).
struct TokenEmbedding {
  std::string token;                     // the output token it is for (the key); added to the output if missing
  std::optional<TokenRowSource> source;  // required here (mergekit has None by default and then fails mid-merge)
  bool force = false;                    // also replace the rows of models that have the token
  std::string key;                       // "tokenizer.tokens.<token>", for messages
  int line = 0;
};

struct TokenizerSettings {
  TokenizerSource source;
  std::vector<TokenEmbedding> tokens;              // in the order written
  std::optional<std::int64_t> pad_to_multiple_of;  // output rows rounded up to a multiple of it
  std::string key = "tokenizer";                   // the key given: "tokenizer" or "tokenizer_source"
  int line = 0;
};

struct MergeConfig {
  std::filesystem::path path;  // the file, as given
  std::string text;            // its contents (a recipe's: the document's), echoed into the output as mergekit_config.yml
  std::string name;            // mergekit-multi's `name`: a recipe stage's name, by which later stages use its output
  std::string merge_method;
  int merge_method_line = 0;
  std::optional<ModelReference> base_model;
  std::vector<InputSource> models;  // the `models` form; empty when `slices` is used
  std::vector<OutputSlice> slices;  // the `slices` form; empty when `models` is used
  ParameterSettings parameters;     // top-level
  std::optional<c10::ScalarType> dtype;
  std::optional<c10::ScalarType> out_dtype;
  // `tokenizer` or `tokenizer_source`: the output vocabulary is built and every vocabulary matrix remapped to it;
  // none: the reference model's tokenizer files are copied and vocabulary matrices cut to the fewest rows.
  std::optional<TokenizerSettings> tokenizer;
  std::string chat_template;         // written into the output's tokenizer_config.json (chat_template_choice.h)
  int chat_template_line = 0;
  // ladle's key (mergekit has a --cuda flag instead): where the math runs (lib/config/device_value.h); inputs are
  // read and outputs written on the CPU. `ladle merge --device` overrides it.
  std::string device = "cpu";
  std::vector<std::string> warnings;  // accepted but ignored settings

  // Every distinct model whose tensors are read (base models, models, slice sources; not a tokenizer source
  // model), in order of first mention, base_model first.
  std::vector<ModelReference> referenced_models() const;
  // "<file>:<line>" for messages.
  std::string where(int line) const;
};

// Reads and parses a config file (at most kMaxConfigBytes); model paths are resolved against its folder. Throws
// ladle::Error.
MergeConfig load_merge_config(const std::filesystem::path& path);
// Parses config text; `label` names it in messages and `folder` resolves relative model paths. Refuses text of
// several YAML documents (a recipe: merge_recipe.h).
MergeConfig parse_merge_config(const std::string& text, const std::string& label,
                               const std::filesystem::path& folder);
// Parses one document of a recipe: `document` is its text alone, which starts at line `first_line` of the file
// `label`, so that messages name the file's lines.
MergeConfig parse_merge_document(const std::string& document, int first_line, const std::string& label,
                                 const std::filesystem::path& folder);

// Every key of the YAML, each list's entries (`models[]`, `slices[]`, `slices[].sources[]`) as a section, and each
// merge method's parameters with their ranges and defaults, for `ladle merge --help-config`.
std::vector<config::KeyReference> merge_config_reference();

// mergekit's dtype names: float32, float16, bfloat16, float64 (also with a "torch." prefix, and fp32, fp16,
// bf16). Throws ladle::Error listing them.
c10::ScalarType parse_merge_dtype(const std::string& name);
// The name mergekit (and config.json's torch_dtype) uses: "float32", "bfloat16", ...
std::string merge_dtype_name(c10::ScalarType dtype);

}  // namespace ladle::merge
