// Next-token cross-entropy of a causal LM, with transformers' shift: logits at position t predict the label at
// position t + 1 (LlamaForCausalLM / GPT2LMHeadModel's loss).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace ladle::model {

// The label value excluded from the loss (padding, prompt tokens): torch.nn.CrossEntropyLoss's default.
constexpr std::int64_t kIgnoreIndex = -100;

// Mean over the targets of −log softmax(logits[:, t])[labels[:, t + 1]], computed in fp32.
// logits [batch, seq, vocab]; labels [batch, seq] integer (usually the input ids with padding and prompt
// positions set to ignore_index). A target is labels[:, t + 1] unless it equals ignore_index; the first label
// of each row is never a target.
// attention_mask ([batch, seq], 1 = token, 0 = padding), when given, also drops targets predicted from a padding
// position. That matters for left padding only: the padding just before a sequence's first token would
// otherwise "predict" that token, which the unpadded sequence never does (right padding needs no mask).
// With no target at all the result is NaN, as torch's cross_entropy gives. Throws ladle::Error for mismatched
// shapes or a label outside [0, vocab) that is not ignore_index.
at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, std::int64_t ignore_index = kIgnoreIndex,
                          const at::Tensor& attention_mask = {});

// Per-sequence totals of the same targets, for losses over tasks or documents of different lengths (sum the sums,
// divide by the summed counts).
struct SequenceLoss {
  at::Tensor loss_sum;     // [batch] fp32: Σ over the sequence's targets of the token loss
  at::Tensor token_count;  // [batch] int64: number of targets (labels[:, 1:] != ignore_index)
};
SequenceLoss causal_lm_sequence_loss(const at::Tensor& logits, const at::Tensor& labels,
                                     std::int64_t ignore_index = kIgnoreIndex, const at::Tensor& attention_mask = {});

}  // namespace ladle::model
