#include "clustering/embedder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <string>

#include "lib/log/log.h"
#include "lib/model/causal_lm.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"

namespace ladle::clustering {
namespace {

// L2 normalisation as torch.nn.functional.normalize does it (the norm clamped away from 0).
constexpr double kNormEpsilon = 1e-12;

std::size_t resolve_layer(std::int64_t layer, std::int64_t num_hidden_layers) {
  const std::int64_t states = num_hidden_layers + 1;
  const std::int64_t index = layer < 0 ? states + layer : layer;
  if (index < 0 || index >= states) {
    throw Error("embedder: layer " + std::to_string(layer) + " does not exist: the model has " +
                std::to_string(num_hidden_layers) + " layers, so layer must be in [" + std::to_string(-states) + ", " +
                std::to_string(num_hidden_layers) + "]");
  }
  return static_cast<std::size_t>(index);
}

// [B] pooled states of [B, T, H] states; mask [B, T] is 1 at the positions to pool.
at::Tensor pool(const at::Tensor& states, const at::Tensor& pooled_mask, Pooling pooling) {
  if (pooling == Pooling::mean) {
    const at::Tensor weights = pooled_mask.to(states.scalar_type()).unsqueeze(-1);
    return (states * weights).sum(1) / weights.sum(1);
  }
  // The last pooled position of each row: its count of positions up to and including it is the row's maximum.
  const at::Tensor last = (pooled_mask.cumsum(1) * pooled_mask).argmax(1);
  return states.gather(1, last.view({-1, 1, 1}).expand({states.size(0), 1, states.size(2)})).squeeze(1);
}

std::string join_contents(const text::InstructionRecord& record, bool (*wanted)(text::ChatRole)) {
  std::string text;
  for (const auto& message : record.messages) {
    if (!wanted(message.role)) continue;
    if (!text.empty()) text += "\n\n";
    text += message.content;
  }
  return text;
}

}  // namespace

const char* embed_text_name(EmbedText text) {
  switch (text) {
    case EmbedText::instruction:
      return "instruction";
    case EmbedText::response:
      return "response";
    case EmbedText::both:
      return "both";
  }
  return "?";
}

std::optional<EmbedText> parse_embed_text(std::string_view name) {
  for (EmbedText text : {EmbedText::instruction, EmbedText::response, EmbedText::both}) {
    if (name == embed_text_name(text)) return text;
  }
  return std::nullopt;
}

const char* pooling_name(Pooling pooling) { return pooling == Pooling::mean ? "mean" : "last"; }

std::optional<Pooling> parse_pooling(std::string_view name) {
  if (name == "mean") return Pooling::mean;
  if (name == "last") return Pooling::last_token;
  return std::nullopt;
}

std::string embedding_text(const text::InstructionRecord& record, EmbedText which) {
  switch (which) {
    case EmbedText::instruction:
      return join_contents(record, [](text::ChatRole role) { return role != text::ChatRole::assistant; });
    case EmbedText::response:
      return join_contents(record, [](text::ChatRole role) { return role == text::ChatRole::assistant; });
    case EmbedText::both:
      return join_contents(record, [](text::ChatRole) { return true; });
  }
  return "";
}

Embedder::Embedder(std::shared_ptr<model::CausalLm> model, std::shared_ptr<const text::Tokenizer> tokenizer,
                   EmbedderOptions options)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(options) {
  if (!model_ || !tokenizer_) throw Error("embedder: a model and a tokenizer are required");
  const auto& config = model_->config();
  hidden_state_index_ = resolve_layer(options_.layer, config.num_hidden_layers);
  if (!tokenizer_->bos_id()) options_.add_bos = false;
  if (options_.batch_size < 1)
    throw Error("embedder: batch size must be positive, got " + std::to_string(options_.batch_size));
  const std::int64_t least_length = options_.add_bos ? 2 : 1;
  if (options_.max_length < least_length) {
    throw Error("embedder: max length must be at least " + std::to_string(least_length) + ", got " +
                std::to_string(options_.max_length));
  }
  options_.max_length = std::min(options_.max_length, config.max_position_embeddings);
  if (model_->is_training()) {
    throw Error("embedder: the model is in training mode (dropout would make embeddings random); call eval() first");
  }
  if (tokenizer_->vocab_size() > config.vocab_size) {
    throw Error("embedder: the tokenizer has " + std::to_string(tokenizer_->vocab_size()) +
                " tokens but the model only " + std::to_string(config.vocab_size) + ": they do not belong together");
  }
}

std::vector<std::int64_t> Embedder::tokens(const text::InstructionRecord& record) const {
  std::vector<std::int64_t> ids;
  if (options_.add_bos) ids.push_back(*tokenizer_->bos_id());
  const auto text_ids = tokenizer_->encode(embedding_text(record, options_.text));
  const auto room = static_cast<std::size_t>(options_.max_length) - ids.size();
  ids.insert(ids.end(), text_ids.begin(),
             text_ids.begin() + static_cast<std::ptrdiff_t>(std::min(room, text_ids.size())));
  return ids;
}

FloatMatrix Embedder::embed(const std::vector<text::InstructionRecord>& records) const {
  std::vector<std::vector<std::int64_t>> sequences;
  sequences.reserve(records.size());
  const std::size_t first_pooled = options_.add_bos ? 1 : 0;
  for (const auto& record : records) {
    sequences.push_back(tokens(record));
    if (sequences.back().size() <= first_pooled) {
      throw Error("embedder: the record of line " + std::to_string(record.line) + " has no " +
                  embed_text_name(options_.text) + " tokens to embed");
    }
  }
  return embed_tokens(sequences);
}

FloatMatrix Embedder::embed_tokens(const std::vector<std::vector<std::int64_t>>& sequences) const {
  const std::size_t first_pooled = options_.add_bos ? 1 : 0;
  std::int64_t total_tokens = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    if (sequences[i].size() <= first_pooled || sequences[i].size() > static_cast<std::size_t>(options_.max_length)) {
      throw Error("embedder: sequence " + std::to_string(i) + " has " + std::to_string(sequences[i].size()) +
                  " tokens; it needs more than " + std::to_string(first_pooled) + " and at most " +
                  std::to_string(options_.max_length));
    }
    total_tokens += static_cast<std::int64_t>(sequences[i].size());
  }
  // Longest first, so that each batch pads little and the slowest batches come before the ETA settles.
  std::vector<std::size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sequences[a].size() > sequences[b].size(); });

  FloatMatrix result(static_cast<std::int64_t>(sequences.size()), model_->config().hidden_size);
  const std::int64_t pad_id = tokenizer_->pad_id().value_or(0);
  const at::Device device = model_->device();
  ProgressOptions progress_options;
  progress_options.item_name = "records";
  ProgressLine progress("embed", sequences.size(), progress_options);
  const auto start = std::chrono::steady_clock::now();
  std::int64_t done_tokens = 0, padded_tokens = 0;
  at::NoGradGuard no_grad;

  for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(options_.batch_size)) {
    const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(options_.batch_size));
    const auto rows = static_cast<std::int64_t>(end - begin);
    const auto width = static_cast<std::int64_t>(sequences[order[begin]].size());
    at::Tensor ids = at::full({rows, width}, pad_id, at::kLong);
    at::Tensor mask = at::zeros({rows, width}, at::kLong);
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto& sequence = sequences[order[begin + static_cast<std::size_t>(r)]];
      std::memcpy(ids[r].data_ptr<std::int64_t>(), sequence.data(), sequence.size() * sizeof(std::int64_t));
      mask[r].narrow(0, 0, static_cast<std::int64_t>(sequence.size())).fill_(1);
      done_tokens += static_cast<std::int64_t>(sequence.size());
    }
    padded_tokens += rows * width;

    model::ForwardOptions forward;
    forward.attention_mask = mask.to(device);
    forward.output_hidden_states = true;
    const auto output = model_->forward(ids.to(device), forward);
    const at::Tensor states = output.hidden_states.at(hidden_state_index_).to(at::kFloat);
    at::Tensor pooled_mask = forward.attention_mask.clone();
    if (first_pooled > 0) pooled_mask.narrow(1, 0, 1).zero_();
    at::Tensor pooled = pool(states, pooled_mask, options_.pooling);
    pooled = pooled / pooled.norm(2, {1}, /*keepdim=*/true).clamp_min(kNormEpsilon);
    pooled = pooled.to(at::kCPU).contiguous();

    const float* values = pooled.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r) {
      std::memcpy(result.row(static_cast<std::int64_t>(order[begin + static_cast<std::size_t>(r)])),
                  values + r * result.cols, static_cast<std::size_t>(result.cols) * sizeof(float));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    progress.set_status(std::to_string(static_cast<std::int64_t>(done_tokens / std::max(seconds, 1e-9))) + " tokens/s");
    progress.advance(static_cast<std::uint64_t>(rows));
  }
  progress.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  LADLE_LOG(debug) << "embedded " << sequences.size() << " sequences (" << total_tokens << " tokens, "
                   << (padded_tokens > 0 ? 100.0 * static_cast<double>(padded_tokens - total_tokens) /
                                               static_cast<double>(padded_tokens)
                                         : 0.0)
                   << "% padding) in " << seconds
                   << " s: " << static_cast<double>(sequences.size()) / std::max(seconds, 1e-9) << " records/s, "
                   << static_cast<double>(total_tokens) / std::max(seconds, 1e-9) << " tokens/s";
  return result;
}

}  // namespace ladle::clustering
