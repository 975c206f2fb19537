// Next-token cross-entropy of a causal LM, with transformers' shift: logits at position t predict the label at
// position t + 1 (LlamaForCausalLM / GPT2LMHeadModel's loss).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ladle::model {

// The label value excluded from the loss (padding, prompt tokens): torch.nn.CrossEntropyLoss's default.
constexpr std::int64_t kIgnoreIndex = -100;

// Mean over the non-ignored targets of −log softmax(logits[:, t])[labels[:, t + 1]], computed in fp32.
// logits [batch, seq, vocab]; labels [batch, seq] integer (usually the input ids with ignored positions set to
// ignore_index). The first label of each sequence is never a target. With no target at all the result is NaN,
// as torch's cross_entropy gives. Throws ladle::Error for mismatched shapes or a label outside [0, vocab) that
// is not ignore_index.
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels,
                          std::int64_t ignore_index = kIgnoreIndex);

// Per-sequence totals, for losses over tasks or documents of different lengths (sum the sums, divide by the
// summed counts).
struct SequenceLoss {
  at::Tensor loss_sum;     // [batch] fp32: Σ over the sequence's targets of the token loss
  at::Tensor token_count;  // [batch] int64: number of targets (labels[:, 1:] != ignore_index)
};
SequenceLoss causal_lm_sequence_loss(const at::Tensor& logits, const at::Tensor& labels,
                                     std::int64_t ignore_index = kIgnoreIndex);

}  // namespace ladle::model
