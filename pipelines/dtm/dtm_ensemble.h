// The c-BTM ensemble of a DTM replicate's k-means sub-models (Gururangan et al. 2023, section 2.3): no merge; each
// evaluated example's prompt (its system and user messages) is embedded as the clusters were embedded (by the base
// model with the embed section's pooling, layer, length and bf16, or by the fitted TF-IDF and SVD projection), the
// sub-models are weighted by
// the cluster posterior of that embedding (clustering/cluster_posterior.h: top-k of softmax(−d²/T) over the
// distances to the centres) and their next-token probabilities are mixed (model::MixtureLm). It is the upper bound
// weight merging is judged against: what the sub-models know, each used where its cluster applies.
//
// The evaluator's rows (loss examples, generation prompts, choice candidates) all begin with a held-out record's
// prompt, which picks the row's weights; a row that begins with none (a block of the knowledge text) is routed on
// its own text.
#pragma once

#include <memory>
#include <vector>

#include "clustering/cluster_posterior.h"
#include "clustering/embedder.h"
#include "clustering/tfidf_embedder.h"
#include "lib/model/mixture_lm.h"
#include "lib/text/chat_template.h"
#include "lib/text/instruction_record.h"

namespace ladle::dtm {

struct DtmEnsembleInputs {
  std::vector<std::shared_ptr<model::CausalLm>> experts;  // the sub-models, in cluster order
  clustering::FloatMatrix centroids;                      // [experts, d]: each sub-model's cluster centre
  // What embedded the clusters: the TF-IDF embedder fitted to them (embed.embedder tfidf), or else the base model
  // (eval mode) with `embedder` and `bf16`.
  std::shared_ptr<const clustering::TfidfEmbedder> tfidf;
  std::shared_ptr<model::CausalLm> base;
  std::shared_ptr<const text::Tokenizer> tokenizer;
  std::shared_ptr<const text::ChatFormat> chat_format;    // the one the evaluator tokenizes records with
  clustering::EmbedderOptions embedder;                   // as the clusters were embedded (its text is ignored)
  bool bf16 = false;                                      // embed under bf16 autocast, as the clusters were
  clustering::ClusterPosteriorOptions posterior;
  std::vector<text::InstructionRecord> records;           // every held-out record the evaluator scores
};

// Throws ladle::Error when the experts and centres differ in number (or MixtureLm's errors).
std::shared_ptr<model::MixtureLm> make_dtm_ensemble(DtmEnsembleInputs inputs);

}  // namespace ladle::dtm
