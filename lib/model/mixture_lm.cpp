#include "lib/model/mixture_lm.h"

#include <ATen/ATen.h>

#include <limits>
#include <string>

#include "lib/util/error.h"

namespace ladle::model {
namespace {

const CausalLmConfig& first_config(const std::vector<std::shared_ptr<CausalLm>>& experts) {
  if (experts.empty()) throw Error("mixture: no expert models");
  return experts.front()->config();
}

}  // namespace

MixtureLm::MixtureLm(std::vector<std::shared_ptr<CausalLm>> experts, MixtureRouter router)
    : CausalLm(first_config(experts)),
      experts_(std::move(experts)),
      router_(std::move(router)) {
  for (std::size_t j = 0; j < experts_.size(); ++j) {
    if (experts_[j]->config().vocab_size != experts_.front()->config().vocab_size) {
      throw Error("mixture: expert " + std::to_string(j) + " has a vocabulary of " +
                  std::to_string(experts_[j]->config().vocab_size) + ", expert 0 of " +
                  std::to_string(experts_.front()->config().vocab_size));
    }
    if (experts_[j]->device() != experts_.front()->device()) {
      throw Error("mixture: expert " + std::to_string(j) + " is on another device than expert 0");
    }
    // Registered so that eval() and train() reach every expert.
    register_module("expert" + std::to_string(j), experts_[j]);
  }
}

at::Tensor MixtureLm::route(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
  const at::Tensor weights = router_(input_ids, attention_mask).to(at::kCPU, at::kFloat);
  const auto k = static_cast<std::int64_t>(experts_.size());
  if (weights.dim() != 2 || weights.size(0) != input_ids.size(0) || weights.size(1) != k) {
    throw Error("mixture: the router returned weights of shape " + std::to_string(weights.dim()) +
                "-d, expected [batch, " + std::to_string(k) + "]");
  }
  if (weights.lt(0).any().item<bool>() || !at::allclose(weights.sum(1), at::ones({weights.size(0)}), 1e-4, 1e-5)) {
    throw Error("mixture: the router's weights must be non-negative and sum to 1 per sequence");
  }
  return weights;
}

CausalLmOutput MixtureLm::forward(const at::Tensor& input_ids, const ForwardOptions& options) {
  at::Tensor weights;
  if (options.cache == nullptr) {
    weights = route(input_ids, options.attention_mask);
  } else {
    if (options.cache->empty()) {
      active_cache_ = options.cache;
      expert_caches_.assign(experts_.size(), KvCache());
      cached_weights_ = route(input_ids, options.attention_mask);
    } else if (options.cache != active_cache_) {
      throw Error("mixture: a cache that did not start with this model (clear it first)");
    }
    weights = cached_weights_;
    // The caller's cache tracks the positions seen, as a single model's would.
    options.cache->extend_attention_mask(options.attention_mask.defined()
                                             ? options.attention_mask.to(at::kLong)
                                             : at::ones(input_ids.sizes(), input_ids.options().dtype(at::kLong)));
  }
  at::Tensor mixture;  // Σ_j w_j softmax(logits_j), [batch, seq, vocab]
  for (std::size_t j = 0; j < experts_.size(); ++j) {
    ForwardOptions expert_options = options;
    expert_options.cache = options.cache != nullptr ? &expert_caches_[j] : nullptr;
    expert_options.output_hidden_states = false;
    const at::Tensor probabilities = experts_[j]->forward(input_ids, expert_options).logits.to(at::kFloat).softmax(-1);
    const at::Tensor weight = weights.select(1, static_cast<std::int64_t>(j)).to(probabilities.device()).view({-1, 1, 1});
    mixture = j == 0 ? weight * probabilities : mixture + weight * probabilities;
  }
  // The log of the mixture is its logits: softmax gives the mixture back, cross-entropy is −log of it. A
  // probability that underflowed to 0 in every expert stays finite (float's smallest normal).
  return {mixture.clamp_min(std::numeric_limits<float>::min()).log(), {}};
}

}  // namespace ladle::model
