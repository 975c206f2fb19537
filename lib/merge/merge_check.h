// The pre-merge compatibility check (`ladle merge check`, also run before every merge): reads only metadata
// (config.json, safetensors headers, tokenizer files) and reports, all at once and each with what to do about it, every problem
// that would stop the merge or silently change its result: models that cannot be opened, differing
// architectures, tensors missing from a model, shape and dtype differences, vocabulary size differences, ids
// whose token differs between a model's tokenizer and the output's (lib/merge/token_vocabulary.h),
// layer ranges out of bounds, and configuration errors the planner finds (unknown method or parameter, missing
// required parameter). With a tokenizer setting it prints the output vocabulary instead of the id-by-id comparison:
// per model the tokens it adds, lacks (and which rule gives their rows) and loses, and pad_to_multiple_of's rows
// (lib/merge/output_vocabulary.h, vocabulary_remap.h).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "lib/merge/input_models.h"
#include "lib/merge/merge_config.h"

namespace ladle::merge {

enum class CheckSeverity {
  error,    // the merge cannot run (or would produce a broken model): it stops before writing anything
  warning,  // the merge runs, but changes something the user may not expect (rows cut, settings ignored)
  note,     // worth knowing (inputs stored in different dtypes are cast)
};

struct CheckFinding {
  CheckSeverity severity = CheckSeverity::error;
  std::string topic;    // "models", "architecture", "layers", "tensors", "shapes", "dtypes", "vocabulary", "config"
  std::string message;  // what is wrong, naming the models and tensors
  std::string advice;   // what to do about it
};

struct MergeCheckReport {
  std::string config_label;  // the config file
  std::vector<std::string> model_lines;  // one line per model: name, architecture, layers, tensors, dtypes, vocab
  // With a tokenizer setting: the output vocabulary, then per model the tokens it adds, lacks (and the rule that
  // gives their rows) and has beyond the output, and pad_to_multiple_of's rows.
  std::vector<std::string> vocabulary_lines;
  std::vector<CheckFinding> findings;

  bool has_errors() const;
  std::size_t count(CheckSeverity severity) const;
  // The report for people: the models, then errors, warnings and notes, each with its advice, then a verdict.
  std::string text() const;
};

MergeCheckReport check_merge(const MergeConfig& config, const InputModels& models);

}  // namespace ladle::merge
