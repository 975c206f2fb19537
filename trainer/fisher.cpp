#include "trainer/fisher.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <memory>

#include "lib/model/causal_lm_loss.h"
#include "lib/text/batch.h"
#include "lib/util/error.h"
#include "trainer/bf16_autocast.h"
#include "trainer/distributed.h"

namespace ladle::trainer {

NamedTensors diagonal_fisher(model::CausalLm& model, FlatParameters& parameters, const text::ExampleDataset& examples,
                             std::size_t count, std::uint64_t seed, ProcessGroup& group, bool bf16) {
  if (parameters.groups().size() != 1 || !parameters.groups().front().gradients.defined()) {
    throw Error("Fisher information: needs one flat parameter group with flat gradients");
  }
  const FlatParameterGroup& flat = parameters.groups().front();
  const std::size_t total = std::min(count, examples.size());
  if (total == 0) throw Error("Fisher information: no held-out example");
  std::shared_ptr<const text::ExampleDataset> subset =
      text::random_subset(std::shared_ptr<const text::ExampleDataset>(&examples, [](const auto*) {}), total, seed);
  const bool was_training = model.is_training();
  model.eval();
  at::Tensor fisher = at::zeros({flat.values.numel()}, flat.values.options().dtype(at::kFloat));
  at::Tensor used = at::zeros({1}, at::kDouble);
  for (std::size_t i = 0; i < total; ++i) {
    if (static_cast<int>(i % group.world_size()) != group.rank()) continue;
    parameters.zero_grad();
    const text::Batch batch = text::collate({subset->example(i)}, /*pad_id=*/0);
    at::Tensor logits;
    {
      Bf16Autocast autocast(bf16, model.device());
      model::ForwardOptions options;
      options.attention_mask = batch.attention_mask.to(model.device());
      logits = model.forward(batch.input_ids.to(model.device()), options).logits;
    }
    const auto losses = model::causal_lm_sequence_loss(logits, batch.labels.to(model.device()));
    if (losses.token_count.item<std::int64_t>() == 0) continue;
    // −log p(y|x) has the same squared gradient as log p(y|x).
    losses.loss_sum.sum().backward();
    fisher.addcmul_(flat.gradients, flat.gradients);
    used += 1;
  }
  parameters.zero_grad();
  if (was_training) model.train();
  group.all_reduce_sum(fisher);
  group.all_reduce_sum(used);
  if (used.item<double>() == 0) throw Error("Fisher information: no held-out example has a target token");
  fisher.div_(used.item<double>());
  // In the model's parameter order (the flat buffer orders them for weight decay).
  NamedTensors named;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const auto slot =
        std::find_if(flat.slots.begin(), flat.slots.end(), [&](const auto& s) { return s.name == item.key(); });
    if (slot != flat.slots.end())
      named.insert(slot->name, fisher.narrow(0, slot->offset, slot->numel).view(slot->shape));
  }
  return named;
}

}  // namespace ladle::trainer
