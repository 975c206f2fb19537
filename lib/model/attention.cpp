#include "lib/model/attention.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <string>

#include "lib/model/layers.h"
#include "lib/util/error.h"
#include "lib/util/shape_text.h"

namespace ladle::model {
namespace {

at::Tensor checked_input_ids(const at::Tensor& input_ids, std::int64_t vocab_size) {
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.size(0) == 0 || input_ids.size(1) == 0) {
    throw Error("input_ids: expected a non-empty [batch, seq] tensor, got " +
                (input_ids.defined() ? "shape " + shape_text(input_ids.sizes()) : std::string("none")));
  }
  if (!at::isIntegralType(input_ids.scalar_type(), /*includeBool=*/false)) {
    throw Error(std::string("input_ids: expected integer token ids, got dtype ") +
                c10::toString(input_ids.scalar_type()));
  }
  at::Tensor ids = input_ids.to(at::kLong);
  const auto low = ids.min().item<std::int64_t>(), high = ids.max().item<std::int64_t>();
  if (low < 0 || high >= vocab_size) {
    throw Error("input_ids: token id " + std::to_string(low < 0 ? low : high) + " is outside the vocabulary [0, " +
                std::to_string(vocab_size) + ")");
  }
  return ids;
}

at::Tensor checked_mask(const at::Tensor& mask, const at::Tensor& ids) {
  if (!mask.defined()) return at::ones_like(ids);
  if (mask.sizes() != ids.sizes()) {
    throw Error("attention_mask: shape " + shape_text(mask.sizes()) + " does not match input_ids " +
                shape_text(ids.sizes()));
  }
  if (!at::isIntegralType(mask.scalar_type(), /*includeBool=*/true)) {
    throw Error(std::string("attention_mask: expected bool or integer values, got dtype ") +
                c10::toString(mask.scalar_type()));
  }
  at::Tensor mask64 = mask.to(ids.device(), at::kLong);
  if (at::logical_and(mask64 != 0, mask64 != 1).any().item<bool>()) {
    throw Error("attention_mask: values must be 0 (padding) or 1 (token)");
  }
  return mask64;
}

}  // namespace

AttentionContext prepare_attention(const at::Tensor& input_ids, const ForwardOptions& options, std::int64_t vocab_size,
                                   std::optional<std::int64_t> max_length, const std::string& limit_name,
                                   const std::string& limit_reason) {
  AttentionContext context;
  context.input_ids = checked_input_ids(input_ids, vocab_size);
  const at::Tensor new_mask = checked_mask(options.attention_mask, context.input_ids);
  const std::int64_t batch = context.input_ids.size(0), seq = context.input_ids.size(1);
  context.cache = options.cache;
  context.past_length = context.cache != nullptr ? context.cache->length() : 0;
  const std::int64_t total = context.past_length + seq;
  if (max_length && total > *max_length) {
    throw Error("sequence of " + std::to_string(total) + " positions exceeds " + limit_name + " (" +
                std::to_string(*max_length) + ")" + limit_reason);
  }
  if (context.cache != nullptr && !context.cache->empty() && context.cache->batch_size() != batch) {
    throw Error("KV cache holds " + std::to_string(context.cache->batch_size()) + " sequences, but input_ids has " +
                std::to_string(batch));
  }
  const at::Tensor mask = context.cache != nullptr ? context.cache->extend_attention_mask(new_mask) : new_mask;
  // transformers' prepare_inputs_for_generation: position_ids = cumsum(mask) − 1, padding set to 1.
  context.position_ids =
      (mask.cumsum(1) - 1).masked_fill(mask == 0, 1).narrow(1, context.past_length, seq).contiguous();
  const auto index_options = at::TensorOptions(at::kLong).device(context.input_ids.device());
  const at::Tensor key_index = at::arange(total, index_options);
  const at::Tensor query_index = at::arange(context.past_length, total, index_options);
  const at::Tensor later = key_index.unsqueeze(0) > query_index.unsqueeze(1);  // [seq, total]
  context.blocked = at::logical_or(later.view({1, 1, seq, total}), (mask == 0).view({batch, 1, 1, total}));
  return context;
}

at::Tensor rotary_inverse_frequencies(std::int64_t head_dim, double theta, const std::optional<RopeScaling>& scaling,
                                      at::Device device) {
  const auto float_options = at::TensorOptions(at::kFloat).device(device);
  // inv_freq = 1 / θ^(2i/d), as LlamaRotaryEmbedding computes it (in fp32).
  const at::Tensor exponents = at::arange(0, head_dim, 2, float_options) / static_cast<double>(head_dim);
  const at::Tensor inv_freq = at::pow(theta, exponents).reciprocal();
  if (!scaling) return inv_freq;
  // transformers' _compute_llama3_parameters: wavelengths 2π/f longer than old_context / low_freq_factor are
  // slowed down by `factor`, those shorter than old_context / high_freq_factor kept, and in between
  // (1 − s)·f/factor + s·f with s = (old_context/wavelength − low) / (high − low).
  const double old_context = static_cast<double>(scaling->original_max_position_embeddings);
  const double low = scaling->low_freq_factor, high = scaling->high_freq_factor, factor = scaling->factor;
  const at::Tensor wavelength = 2 * M_PI / inv_freq;
  const at::Tensor long_waves = wavelength > old_context / low;
  const at::Tensor scaled = at::where(long_waves, inv_freq / factor, inv_freq);
  const at::Tensor smooth = (old_context / wavelength - low) / (high - low);
  const at::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
  const at::Tensor middle = at::logical_and(wavelength >= old_context / high, at::logical_not(long_waves));
  return at::where(middle, smoothed, scaled);
}

RotaryTables rotary_tables(const at::Tensor& position_ids, const at::Tensor& inverse_frequencies,
                           at::ScalarType dtype) {
  const at::Tensor angles = position_ids.to(at::kFloat).unsqueeze(-1) * inverse_frequencies;  // [batch, seq, d/2]
  const at::Tensor repeated = at::cat({angles, angles}, -1).unsqueeze(1);                     // [batch, 1, seq, d]
  return {repeated.cos().to(dtype), repeated.sin().to(dtype)};
}

at::Tensor sliding_window_blocked(const AttentionContext& context, std::int64_t window) {
  const std::int64_t seq = context.blocked.size(2), total = context.blocked.size(3);
  const auto index_options = at::TensorOptions(at::kLong).device(context.blocked.device());
  const at::Tensor key_index = at::arange(total, index_options);
  const at::Tensor query_index = at::arange(context.past_length, total, index_options);
  const at::Tensor too_far = key_index.unsqueeze(0) <= query_index.unsqueeze(1) - window;  // [seq, total]
  return at::logical_or(context.blocked, too_far.view({1, 1, seq, total}));
}

at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& tables) {
  const std::int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * tables.cos + rotated * tables.sin;
}

at::Tensor split_heads(const at::Tensor& x, std::int64_t heads) {
  return x.view({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

at::Tensor merge_heads(const at::Tensor& x) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
}

at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& blocked,
                  double dropout, bool training, const ScoreOptions& options) {
  const std::int64_t batch = q.size(0), heads = q.size(1), kv_heads = k.size(1), keys = k.size(2), dim = q.size(3);
  at::Tensor keys_per_head = k, values_per_head = v;
  if (kv_heads != heads) {  // repeat_kv: each key/value head serves heads / kv_heads consecutive query heads
    const std::int64_t group = heads / kv_heads;
    keys_per_head = k.unsqueeze(2).expand({batch, kv_heads, group, keys, dim}).reshape({batch, heads, keys, dim});
    values_per_head = v.unsqueeze(2).expand({batch, kv_heads, group, keys, dim}).reshape({batch, heads, keys, dim});
  }
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(dim)));
  at::Tensor scores = at::matmul(q, keys_per_head.transpose(-2, -1)).to(at::kFloat) * scale;
  if (options.softcap) scores = soft_cap(scores, *options.softcap);
  // The lowest finite value rather than −inf, as transformers masks: a query that sees no key at all (a padding
  // position) then averages uniformly instead of producing NaN.
  at::Tensor probabilities = at::softmax(scores.masked_fill(blocked, std::numeric_limits<float>::lowest()), -1)
                                 .to(values_per_head.scalar_type());
  if (dropout > 0 && training) probabilities = at::dropout(probabilities, dropout, true);
  return at::matmul(probabilities, values_per_head);
}

}  // namespace ladle::model
