#include "lib/model/generation.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lib/util/error.h"

namespace ladle::model {
namespace {

void validate(const std::vector<std::vector<std::int64_t>>& prompts, const GenerationOptions& options,
              std::int64_t vocab_size) {
  if (options.max_new_tokens < 0) {
    throw Error("generate: max_new_tokens must be >= 0, got " + std::to_string(options.max_new_tokens));
  }
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature)) {
    throw Error("generate: temperature must be a finite number >= 0, got " + std::to_string(options.temperature));
  }
  if (!(options.top_p > 0 && options.top_p <= 1)) {
    throw Error("generate: top_p must be in (0, 1], got " + std::to_string(options.top_p));
  }
  if (options.decodable_vocab_size < 0 || options.decodable_vocab_size > vocab_size) {
    throw Error("generate: decodable_vocab_size must be in [0, " + std::to_string(vocab_size) +
                "] (the model's vocabulary), got " + std::to_string(options.decodable_vocab_size));
  }
  if (prompts.empty()) throw Error("generate: no prompts");
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) throw Error("generate: prompt " + std::to_string(i) + " is empty");
  }
}

// The next token of each sequence from the last position's logits [batch, vocab] (fp32, CPU). Choosing among the
// first decodable_vocab_size logits only is masking the rest with -inf: their softmax probability is 0.
at::Tensor choose_tokens(const at::Tensor& all_logits, const GenerationOptions& options, at::Generator& generator) {
  const at::Tensor logits = options.decodable_vocab_size > 0 ? all_logits.narrow(-1, 0, options.decodable_vocab_size)
                                                              : all_logits;
  if (options.temperature == 0) return logits.argmax(-1);
  at::Tensor scores = logits / options.temperature;
  if (options.top_p < 1) {
    // TopPLogitsWarper: drop the least probable tokens whose cumulative probability stays <= 1 − top_p, never the
    // most probable one.
    const auto [sorted, order] = scores.sort(-1, /*descending=*/false);
    at::Tensor drop = sorted.softmax(-1).cumsum(-1) <= 1 - options.top_p;
    drop.select(-1, drop.size(-1) - 1).fill_(false);
    scores = scores.masked_fill(drop.scatter(-1, order, drop), -std::numeric_limits<float>::infinity());
  }
  return at::multinomial(scores.softmax(-1), 1, /*replacement=*/false, generator).squeeze(1);
}

}  // namespace

std::vector<std::vector<std::int64_t>> generate(CausalLm& model, const std::vector<std::vector<std::int64_t>>& prompts,
                                                const GenerationOptions& options) {
  validate(prompts, options, model.config().vocab_size);
  at::NoGradGuard no_grad;
  const auto batch = static_cast<std::int64_t>(prompts.size());
  std::int64_t longest = 0;
  for (const auto& prompt : prompts)
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(prompt.size()));

  // Left padding: the last position of every row is the prompt's last token. The padding id is any valid id.
  at::Tensor ids = at::zeros({batch, longest}, at::kLong), mask = at::zeros({batch, longest}, at::kLong);
  for (std::int64_t row = 0; row < batch; ++row) {
    const auto& prompt = prompts[static_cast<std::size_t>(row)];
    const auto length = static_cast<std::int64_t>(prompt.size());
    ids[row].narrow(0, longest - length, length).copy_(at::tensor(prompt, at::kLong));
    mask[row].narrow(0, longest - length, length).fill_(1);
  }
  const at::Device device = model.device();
  ids = ids.to(device);
  mask = mask.to(device);

  std::vector<std::vector<std::int64_t>> generated(prompts.size());
  std::vector<bool> finished(prompts.size(), false);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  KvCache cache;
  at::Tensor step_ids = ids, step_mask = mask;
  for (std::int64_t step = 0; step < options.max_new_tokens; ++step) {
    ForwardOptions forward_options;
    forward_options.attention_mask = step_mask;
    if (options.use_cache) forward_options.cache = &cache;
    const at::Tensor logits = model.forward(step_ids, forward_options).logits;
    const at::Tensor next = choose_tokens(logits.select(1, -1).to(at::kCPU, at::kFloat), options, generator);
    const auto* tokens = next.data_ptr<std::int64_t>();
    for (std::size_t row = 0; row < prompts.size(); ++row) {
      if (finished[row]) continue;
      generated[row].push_back(tokens[row]);
      const auto& stops = options.stop_token_ids;
      finished[row] = std::find(stops.begin(), stops.end(), tokens[row]) != stops.end();
    }
    if (std::all_of(finished.begin(), finished.end(), [](bool done) { return done; })) break;
    // Finished rows keep receiving tokens; their outputs are discarded.
    const at::Tensor next_column = next.unsqueeze(1).to(device);
    const at::Tensor ones = at::ones({batch, 1}, mask.options());
    if (options.use_cache) {
      step_ids = next_column;
      step_mask = ones;
    } else {
      step_ids = at::cat({step_ids, next_column}, 1);
      step_mask = at::cat({step_mask, ones}, 1);
    }
  }
  return generated;
}

}  // namespace ladle::model
