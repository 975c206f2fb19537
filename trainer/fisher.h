// The diagonal Fisher information of a model on held-out data, for Fisher-weighted merging (Matena & Raffel,
// "Merging Models with Fisher-Weighted Averaging", NeurIPS 2022; lib/merge/methods/fisher.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "lib/model/causal_lm.h"
#include "lib/text/example_dataset.h"
#include "lib/weights/flat_parameters.h"
#include "lib/weights/named_tensors.h"

namespace ladle::trainer {

class ProcessGroup;

// The empirical diagonal Fisher F = (1/N) Σₙ (∇θ log p(yₙ | xₙ))², one sequence at a time: log p(yₙ | xₙ) is
// the sum of the log-probabilities of example n's target tokens (the training loss's targets), over a seeded
// random subset of min(count, examples.size()) examples (less any without a target token). Squared per-example
// gradients, not the square of a batch gradient: the Fisher is an expectation of outer products, and batching
// would average the gradients first. Computed over `parameters`' trainable tensors (their flat gradient buffer is
// used and left zeroed), in eval mode (no dropout), shared across the processes of `group` (each takes every
// world_size-th example). Returns fp32 tensors named as the parameters (Hugging Face names for a full model), in
// the model's parameter order.
NamedTensors diagonal_fisher(model::CausalLm& model, FlatParameters& parameters, const text::ExampleDataset& examples,
                             std::size_t count, std::uint64_t seed, ProcessGroup& group, bool bf16);

}  // namespace ladle::trainer
