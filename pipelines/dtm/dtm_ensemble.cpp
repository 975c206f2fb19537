#include "pipelines/dtm/dtm_ensemble.h"

#include <ATen/ATen.h>

#include <map>
#include <string>

#include "lib/util/error.h"
#include "trainer/bf16_autocast.h"

namespace ladle::dtm {
namespace {

// The record with only its prompt: the messages before the reply.
text::InstructionRecord prompt_of(const text::InstructionRecord& record) {
  text::InstructionRecord prompt = record;
  if (!prompt.messages.empty()) prompt.messages.pop_back();
  return prompt;
}

class PromptRouter {
 public:
  explicit PromptRouter(DtmEnsembleInputs inputs) : inputs_(std::move(inputs)) {
    inputs_.embedder.text = clustering::EmbedText::instruction;
    std::vector<text::InstructionRecord> prompts;
    for (const auto& record : inputs_.records) {
      prompts.push_back(prompt_of(record));
      std::vector<text::ChatMessage> messages = prompts.back().messages;
      by_prompt_.emplace(inputs_.chat_format->encode_prompt(messages, *inputs_.tokenizer), prompts.size() - 1);
    }
    weights_ = weights_of(prompts);
    for (const auto& [prompt, row] : by_prompt_) longest_ = std::max(longest_, prompt.size());
  }

  // [batch, K] weights of the rows.
  at::Tensor operator()(const at::Tensor& input_ids, const at::Tensor& attention_mask) const {
    const at::Tensor ids = input_ids.to(at::kCPU, at::kLong).contiguous();
    const at::Tensor mask = attention_mask.defined() ? attention_mask.to(at::kCPU, at::kLong).contiguous()
                                                     : at::ones_like(ids);
    const auto k = inputs_.centroids.rows;
    at::Tensor weights = at::zeros({ids.size(0), k}, at::kFloat);
    std::vector<text::InstructionRecord> unknown;
    std::vector<std::int64_t> unknown_rows;
    const auto id = ids.accessor<std::int64_t, 2>();
    const auto token = mask.accessor<std::int64_t, 2>();
    for (std::int64_t row = 0; row < ids.size(0); ++row) {
      std::vector<std::int64_t> tokens;
      for (std::int64_t t = 0; t < ids.size(1); ++t) {
        if (token[row][t] != 0) tokens.push_back(id[row][t]);
      }
      if (const auto* known = known_prompt(tokens)) {
        weights[row].copy_(at::from_blob(const_cast<float*>(weights_.row(static_cast<std::int64_t>(*known))), {k},
                                         at::kFloat));
      } else {
        text::InstructionRecord record;
        record.messages = {{text::ChatRole::user, inputs_.tokenizer->decode(tokens)}};
        unknown.push_back(record);
        unknown_rows.push_back(row);
      }
    }
    if (!unknown.empty()) {
      const clustering::FloatMatrix own = weights_of(unknown);
      for (std::size_t i = 0; i < unknown_rows.size(); ++i) {
        weights[unknown_rows[i]].copy_(
            at::from_blob(const_cast<float*>(own.row(static_cast<std::int64_t>(i))), {k}, at::kFloat));
      }
    }
    return weights;
  }

 private:
  // The index of the longest held-out prompt the tokens begin with, or null.
  const std::size_t* known_prompt(const std::vector<std::int64_t>& tokens) const {
    for (std::size_t length = std::min(tokens.size(), longest_); length > 0; --length) {
      const auto found = by_prompt_.find(std::vector<std::int64_t>(tokens.begin(), tokens.begin() + length));
      if (found != by_prompt_.end()) return &found->second;
    }
    return nullptr;
  }

  clustering::FloatMatrix weights_of(const std::vector<text::InstructionRecord>& prompts) const {
    return clustering::cluster_posterior(embeddings_of(prompts), inputs_.centroids, inputs_.posterior);
  }

  clustering::FloatMatrix embeddings_of(const std::vector<text::InstructionRecord>& prompts) const {
    if (inputs_.tfidf) {
      std::vector<std::string> texts;
      for (const auto& prompt : prompts) texts.push_back(clustering::embedding_text(prompt, inputs_.embedder.text));
      return inputs_.tfidf->embed(texts);
    }
    const trainer::Bf16Autocast autocast(inputs_.bf16, inputs_.base->device());
    const clustering::Embedder embedder(inputs_.base, inputs_.tokenizer, inputs_.embedder);
    return embedder.embed(prompts);
  }

  DtmEnsembleInputs inputs_;
  std::map<std::vector<std::int64_t>, std::size_t> by_prompt_;  // a prompt's tokens -> its row of weights_
  std::size_t longest_ = 0;
  clustering::FloatMatrix weights_;  // [records, K]
};

}  // namespace

std::shared_ptr<model::MixtureLm> make_dtm_ensemble(DtmEnsembleInputs inputs) {
  if (static_cast<std::int64_t>(inputs.experts.size()) != inputs.centroids.rows) {
    throw Error("c-BTM ensemble: " + std::to_string(inputs.experts.size()) + " sub-models but " +
                std::to_string(inputs.centroids.rows) + " cluster centres");
  }
  std::vector<std::shared_ptr<model::CausalLm>> experts = inputs.experts;
  auto router = std::make_shared<const PromptRouter>(std::move(inputs));
  return std::make_shared<model::MixtureLm>(
      std::move(experts),
      [router](const at::Tensor& input_ids, const at::Tensor& attention_mask) {
        return (*router)(input_ids, attention_mask);
      });
}

}  // namespace ladle::dtm
