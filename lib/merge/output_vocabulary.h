// The output vocabulary of a merge that sets `tokenizer:` (or `tokenizer_source:`), and each merged model's map
// from output ids to its own ids, from the tokenizer files alone (no tensor is read). The rules are mergekit's
// (mergekit/tokenizer/build.py, build_tokenizer):
// - The base tokenizer is the base model's, else the reference model's (the first model), "stripped": its tokens
//   at ids at or beyond the model's vocabulary rows are dropped (get_stripped_tokenizer).
// - source base: the base tokenizer; tokens only other models have are dropped.
// - source union (build_union_tokenizer): the base tokenizer, then every model's ordinary tokens it lacks (model
//   by model, base first, each model's by id), then every model's added tokens it lacks (same order; a token added
//   by several models keeps the first model's settings). Appended tokens get the next ids, as
//   tokenizer.add_tokens gives them; ordinary tokens are appended as added tokens (normalized, not special).
// - source model:PATH: that folder's tokenizer, as it is (not stripped).
// - Then every token named in `tokens:` that the vocabulary lacks is appended (add_tokens).
// - A model's id for an output token is its tokenizer's id of the same token, none when it lacks the token or the
//   id is at or beyond its rows. A merged model whose tokenizer cannot be read is taken to have the base
//   tokenizer's ids (mergekit: "Unable to load tokenizer for ... Assuming same as base").
// - The output has the vocabulary's size rounded up to pad_to_multiple_of rows; config.json's vocab_size says
//   so (merge.py's _update_config_vocab).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/merge/input_models.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/token_vocabulary.h"
#include "lib/text/hf/added_vocabulary.h"

namespace ladle::merge {

// A `tokens:` rule resolved against the vocabularies.
struct TokenRule {
  std::int64_t id = 0;  // the output token's id
  TokenRowSource::Kind kind = TokenRowSource::Kind::zero;
  std::size_t model = 0;       // model, model_token: InputModels index
  std::int64_t model_id = -1;  // model_token: the id in that model whose row is taken
  bool force = false;
  std::string description;  // "zero", "'b' row of '</s>'", for the report
};

struct OutputVocabulary {
  std::filesystem::path tokenizer_folder;   // the folder whose tokenizer files the output's are made from
  TokenizerContents tokenizer;              // that tokenizer, as read
  std::size_t base_model = 0;               // InputModels index of the base tokenizer's model
  TokenVocabulary tokens;                   // the output's tokens by id
  std::int64_t kept = 0;                    // ids [0, kept) are the tokenizer's own (after stripping)
  std::vector<std::string> dropped;         // the tokenizer's tokens at ids >= kept, not in the output
  std::vector<text::hf::AddedToken> added;  // tokens appended to it, ids kept, kept + 1, ...
  std::int64_t rows = 0;                    // rows of the output's vocabulary matrices (tokens, then padding)
  std::vector<TokenRule> rules;             // `tokens:`, in the order written
  // Per merged model (InputModels index): its id of each output token, or -1 when it has none.
  std::map<std::size_t, std::vector<std::int64_t>> model_ids;
  // Per merged model: its tokens the output does not have (they are dropped).
  std::map<std::size_t, std::vector<std::string>> model_extra;
  // Merged models whose tokenizer could not be read, and why: they are taken to have the base tokenizer's ids.
  std::map<std::size_t, std::string> assumed_base_ids;
};

// The rows of a model's vocabulary matrices: its input embedding's, else any vocabulary matrix's, else
// config.json's vocab_size; nullopt when it has none of them.
std::optional<std::int64_t> model_vocabulary_rows(const InputModel& model);

// Builds the output vocabulary of config.tokenizer (which must be set); `merged` are the InputModels indices of
// the models whose tensors are merged and `reference` the reference model (the base model, else the first).
// Throws ladle::Error "FILE:LINE: key: expected ..." for a model or token a rule names that does not exist, and
// naming the folder for a tokenizer that cannot be read.
OutputVocabulary build_output_vocabulary(const MergeConfig& config, const InputModels& models,
                                         const std::vector<std::size_t>& merged, std::size_t reference);

}  // namespace ladle::merge
