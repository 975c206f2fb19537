#include "lib/model/causal_lm_loss.h"

#include <ATen/ATen.h>

#include <string>

#include "lib/util/error.h"
#include "lib/util/shape_text.h"

namespace ladle::model {
namespace {

// Shifted logits [batch·(seq − 1), vocab] in fp32 and targets [batch·(seq − 1)], after checking both.
std::pair<at::Tensor, at::Tensor> shifted(const at::Tensor& logits, const at::Tensor& labels, std::int64_t ignore_index,
                                          const at::Tensor& attention_mask) {
  if (!logits.defined() || logits.dim() != 3 || logits.size(1) < 1) {
    throw Error("causal LM loss: logits must be [batch, seq, vocab], got " +
                (logits.defined() ? shape_text(logits.sizes()) : std::string("none")));
  }
  if (!labels.defined() || labels.dim() != 2 || labels.size(0) != logits.size(0) || labels.size(1) != logits.size(1)) {
    throw Error("causal LM loss: labels must be [batch, seq] = " + shape_text(logits.sizes().slice(0, 2)) + ", got " +
                (labels.defined() ? shape_text(labels.sizes()) : std::string("none")));
  }
  if (!at::isIntegralType(labels.scalar_type(), /*includeBool=*/false)) {
    throw Error(std::string("causal LM loss: labels must be integers, got dtype ") +
                c10::toString(labels.scalar_type()));
  }
  const std::int64_t vocab = logits.size(2), seq = logits.size(1);
  at::Tensor targets = labels.narrow(1, 1, seq - 1).to(logits.device(), at::kLong);
  if (attention_mask.defined()) {
    if (attention_mask.sizes() != labels.sizes()) {
      throw Error("causal LM loss: attention_mask must be [batch, seq] = " + shape_text(labels.sizes()) + ", got " +
                  shape_text(attention_mask.sizes()));
    }
    const at::Tensor predicted_from_padding = attention_mask.narrow(1, 0, seq - 1).to(logits.device()) == 0;
    targets = targets.masked_fill(predicted_from_padding, ignore_index);
  }
  targets = targets.reshape({-1});
  const at::Tensor out_of_range =
      at::logical_and(targets != ignore_index, at::logical_or(targets < 0, targets >= vocab));
  if (out_of_range.any().item<bool>()) {
    throw Error("causal LM loss: label " + std::to_string(targets.masked_select(out_of_range)[0].item<std::int64_t>()) +
                " is outside the vocabulary [0, " + std::to_string(vocab) + ") and is not ignore_index " +
                std::to_string(ignore_index));
  }
  return {logits.narrow(1, 0, seq - 1).reshape({-1, vocab}).to(at::kFloat), targets};
}

}  // namespace

at::Tensor causal_lm_loss(const at::Tensor& logits, const at::Tensor& labels, std::int64_t ignore_index,
                          const at::Tensor& attention_mask) {
  const auto [predictions, targets] = shifted(logits, labels, ignore_index, attention_mask);
  return at::cross_entropy_loss(predictions, targets, /*weight=*/{}, at::Reduction::Mean, ignore_index);
}

SequenceLoss causal_lm_sequence_loss(const at::Tensor& logits, const at::Tensor& labels, std::int64_t ignore_index,
                                     const at::Tensor& attention_mask) {
  const auto [predictions, targets] = shifted(logits, labels, ignore_index, attention_mask);
  const std::int64_t batch = logits.size(0), seq = logits.size(1);
  const at::Tensor token_losses =
      at::cross_entropy_loss(predictions, targets, /*weight=*/{}, at::Reduction::None, ignore_index);
  return {token_losses.view({batch, seq - 1}).sum(1), (targets != ignore_index).view({batch, seq - 1}).sum(1)};
}

}  // namespace ladle::model
