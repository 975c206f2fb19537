// TfidfEmbedder: one vector per text from its TF-IDF weights reduced by truncated SVD, c-BTM's embedder (Gururangan
// et al. 2023, "Scaling Expert Language Models with Unsupervised Domain Discovery", §2.1; their train_clusterer.py
// pipeline TfidfVectorizer -> TruncatedSVD(n_components=100) -> Normalizer). Fitted once on the clustered texts,
// then applied unchanged to any text (a held-out prompt the c-BTM ensemble routes), so that both land in one space.
//
//   TfidfEmbedder embedder = TfidfEmbedder::fit(texts, TfidfOptions{});
//   FloatMatrix embeddings = embedder.embed(texts);   // [N, d], unit rows
//   embedder.save(folder);                            // TfidfEmbedder::load(folder) embeds the same way
//
// The steps, as scikit-learn's TfidfVectorizer (defaults) and TruncatedSVD define them:
//   terms     the text lowercased (ASCII), cut into maximal runs of word characters (letters, digits, '_', and any
//             byte >= 0x80, so UTF-8 letters stay inside words) of at least two: the token_pattern \b\w\w+\b
//   tf        the raw count of term t in the text (sublinear_tf false)
//   idf       idf(t) = ln((1 + n) / (1 + df(t))) + 1, n the fitted texts, df(t) how many of them contain t
//             (smooth_idf true: as if one extra text held every term once, so no division by zero)
//   row       tf · idf over the fitted vocabulary, scaled to unit l2 norm (norm 'l2'); a text with no known term
//             is the zero row
//   embedding the row projected onto the d leading right singular vectors of the fitted texts' [n, V] TF-IDF
//             matrix (uncentred, as TruncatedSVD), then scaled to unit l2 norm (c-BTM's Normalizer), so that
//             faiss's squared distances are the cosine distances k-means on unit vectors wants
// Where this differs from c-BTM: they drop scikit-learn's English stop words and map tokens that begin with a digit
// to one "#NUMBER" term that is itself a stop word; ladle keeps every term (idf already weighs the common ones
// down). scikit-learn's randomized SVD approximates the components this computes exactly (LAPACK, thin SVD of the
// dense matrix: n × V floats in memory), and each component's sign here is fixed (its largest-magnitude term weight
// positive) where LAPACK's is arbitrary.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "clustering/float_matrix.h"

namespace ladle::clustering {

struct TfidfOptions {
  // Dimensions kept by the truncated SVD (c-BTM's n_components = 100); fewer when the fitted matrix has a lower
  // numerical rank (a small corpus), as no more directions carry any of it.
  std::int64_t dimensions = 100;
};

// The terms of `text` in order, as TfidfVectorizer's default analyzer finds them (see the header).
std::vector<std::string> tfidf_terms(std::string_view text);

class TfidfEmbedder {
 public:
  // Fits the vocabulary, idf and projection to `texts`. Throws ladle::Error when no text has a term or dimensions
  // is below 1.
  static TfidfEmbedder fit(const std::vector<std::string>& texts, TfidfOptions options = {});
  // The embedder save() wrote to `folder`. Throws ladle::Error naming the file for a missing or malformed one.
  static TfidfEmbedder load(const std::filesystem::path& folder);
  // Writes tfidf-vocabulary.json (terms in column order and their idf) and tfidf-components.npy ([d, V]).
  void save(const std::filesystem::path& folder) const;

  const std::vector<std::string>& vocabulary() const { return vocabulary_; }  // terms, sorted (the columns)
  const std::vector<float>& idf() const { return idf_; }                      // [V], column order
  std::int64_t dimensions() const { return components_.rows; }

  // [N, V] float32 l2-normalised TF-IDF rows of `texts` over the fitted vocabulary (unknown terms ignored).
  at::Tensor tfidf(const std::vector<std::string>& texts) const;
  // [N, d] unit-length embeddings, row i for texts[i] (a text with no known term: the zero row).
  FloatMatrix embed(const std::vector<std::string>& texts) const;

 private:
  std::vector<std::string> vocabulary_;
  std::vector<float> idf_;
  FloatMatrix components_;  // [d, V]: the right singular vectors, one per row
};

}  // namespace ladle::clustering
