// MixtureLm: an ensemble of K causal LMs over one vocabulary whose next-token distribution is the weighted sum of
// theirs, p(x_t | x_<t) = Σ_j w_j · p_j(x_t | x_<t), with weights per sequence (c-BTM: Gururangan et al. 2023,
// "Scaling Expert Language Models with Unsupervised Domain Discovery", section 2.3, which mixes the experts'
// probabilities, not their logits). It is a CausalLm, so everything that scores or generates with a model (the
// held-out evaluator's loss, greedy exact match and choice scoring) scores the mixture unchanged: its "logits"
// are log Σ_j w_j softmax(logits_j), whose softmax is the mixture itself and whose cross-entropy is −log of it.
//
// The weights of a batch come from a MixtureRouter, called once per sequence batch: on a forward call without a
// cache, and on the first call with an empty cache (the prompts, when generating); later calls with that cache
// reuse them, each expert keeping a cache of its own. Evaluation only: it has no parameters of its own, and its
// experts' parameters are not a Hugging Face state dict.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "lib/model/causal_lm.h"

namespace ladle::model {

// Weights of the experts for each sequence of a batch: [batch, K], non-negative, each row summing to 1, from the
// sequences' token ids [batch, seq] and attention mask ([batch, seq], 1 = token; undefined: no padding).
using MixtureRouter = std::function<at::Tensor(const at::Tensor& input_ids, const at::Tensor& attention_mask)>;

class MixtureLm final : public CausalLm {
 public:
  // Throws ladle::Error for no experts or experts of different vocabulary sizes or devices.
  MixtureLm(std::vector<std::shared_ptr<CausalLm>> experts, MixtureRouter router);

  CausalLmOutput forward(const at::Tensor& input_ids, const ForwardOptions& options = {}) override;

  std::size_t expert_count() const { return experts_.size(); }

 protected:
  bool is_checkpoint_buffer(const std::string&) const override { return false; }
  std::string embedding_name() const override { return ""; }

 private:
  // The router's weights [batch, K] for this batch, checked.
  at::Tensor route(const at::Tensor& input_ids, const at::Tensor& attention_mask) const;

  std::vector<std::shared_ptr<CausalLm>> experts_;
  MixtureRouter router_;
  // The generation in progress: the cache the caller passes, its experts' caches and the batch's weights.
  const KvCache* active_cache_ = nullptr;
  std::vector<KvCache> expert_caches_;
  at::Tensor cached_weights_;
};

}  // namespace ladle::model
