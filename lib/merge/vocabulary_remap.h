// How one vocabulary matrix (input embedding or LM head, [vocab, hidden]) of each input of a tensor is rearranged
// into the output vocabulary's rows before the method merges the inputs: mergekit's PermutedEmbeddings
// (mergekit/tokenizer/embed.py).
//
// Row id of an input's rearranged matrix is its own row of the output's token id when it has that token, else the
// token's default row, which is (assign_embedding_sources, in this order):
//   - the `tokens:` rule for the token (`force: true`: for every input, also those that have the token);
//   - the row of the only input that has the token;
//   - zero when no input has it;
//   - the base model's row when the base model has it;
//   - else the mean of the rows of the inputs that have it.
// Rows beyond the vocabulary (pad_to_multiple_of) are the mean of the input's rearranged token rows (mergekit's
// choice, after https://nlp.stanford.edu/~johnhew/vocab-expansion.html).
#pragma once

#include <ATen/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/merge/output_vocabulary.h"

namespace ladle::merge {

struct VocabularyRemap {
  struct DefaultRow {
    enum class Kind {
      mean,       // of the inputs that have the token
      input_row,  // `row` of input `input`
      zero,
    };
    std::int64_t id = 0;  // output token id
    Kind kind = Kind::zero;
    std::size_t input = 0;
    std::int64_t row = -1;
    std::string why;  // for the report: "mean of the models that have it", "from 'b', the only model with it"
  };
  std::int64_t tokens = 0;                            // output ids [0, tokens) are tokens
  std::int64_t rows = 0;                              // rows of the rearranged matrices (tokens, then padding)
  std::vector<std::vector<std::int64_t>> input_rows;  // per input: its row of each output id, -1 when it has none
  std::vector<DefaultRow> defaults;                   // the tokens some input takes a default row for
  std::vector<std::vector<std::size_t>> replaced;     // per input: the defaults it takes (indices into defaults)
};

// The remap of one tensor: `input_models` are its inputs' InputModels indices (PlannedTensor::all_inputs order),
// `base_input` the position of the base model among them, `input_rows` each input's rows of the tensor. Throws
// ladle::Error naming the config line and `tensor` for a `tokens:` rule whose model is not an input of the tensor
// or lacks the token.
VocabularyRemap plan_vocabulary_remap(const MergeConfig& config, const OutputVocabulary& vocabulary,
                                      const InputModels& models, const std::vector<std::size_t>& input_models,
                                      std::optional<std::size_t> base_input,
                                      const std::vector<std::int64_t>& input_rows, const std::string& tensor);

// The inputs' matrices ([rows_i, hidden], one per input) rearranged: [remap.rows, hidden] each, in the inputs'
// dtype.
std::vector<at::Tensor> remap_vocabulary_rows(const VocabularyRemap& remap, const std::vector<at::Tensor>& inputs);

}  // namespace ladle::merge
