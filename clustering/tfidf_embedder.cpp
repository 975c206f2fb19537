#include "clustering/tfidf_embedder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "clustering/npy.h"
#include "lib/io/atomic_file.h"
#include "lib/io/text_file.h"
#include "lib/merge/truncated_svd.h"
#include "lib/util/error.h"

namespace ladle::clustering {
namespace {

// scikit-learn's Normalizer and TfidfVectorizer leave a zero row as it is; the clamp does the same without a 0/0.
constexpr double kNormEpsilon = 1e-12;
constexpr std::uintmax_t kVocabularyFileLimit = std::uintmax_t{1} << 31;
const char* const kVocabularyFile = "tfidf-vocabulary.json";
const char* const kComponentsFile = "tfidf-components.npy";

bool is_word_byte(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c >= 0x80; }

// [rows, cols] divided by each row's l2 norm.
at::Tensor unit_rows(const at::Tensor& rows) {
  return rows / rows.norm(2, {1}, /*keepdim=*/true).clamp_min(kNormEpsilon);
}

// Term counts of every text: column index -> count, over `columns` (terms outside it are ignored).
std::vector<std::map<std::int64_t, std::int64_t>> term_counts(const std::vector<std::string>& texts,
                                                              const std::map<std::string, std::int64_t>& columns) {
  std::vector<std::map<std::int64_t, std::int64_t>> counts(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    for (const auto& term : tfidf_terms(texts[i])) {
      const auto found = columns.find(term);
      if (found != columns.end()) ++counts[i][found->second];
    }
  }
  return counts;
}

FloatMatrix to_float_matrix(const at::Tensor& tensor) {
  const at::Tensor values = tensor.to(at::kFloat).contiguous();
  FloatMatrix matrix(values.size(0), values.size(1));
  std::copy(values.data_ptr<float>(), values.data_ptr<float>() + values.numel(), matrix.values.begin());
  return matrix;
}

at::Tensor to_tensor(const FloatMatrix& matrix) {
  return at::from_blob(const_cast<float*>(matrix.values.data()), {matrix.rows, matrix.cols}, at::kFloat).clone();
}

}  // namespace

std::vector<std::string> tfidf_terms(std::string_view text) {
  std::vector<std::string> terms;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_word_byte(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::string term;
    for (; i < text.size() && is_word_byte(static_cast<unsigned char>(text[i])); ++i) {
      term += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    }
    if (term.size() >= 2) terms.push_back(std::move(term));
  }
  return terms;
}

TfidfEmbedder TfidfEmbedder::fit(const std::vector<std::string>& texts, TfidfOptions options) {
  if (options.dimensions < 1) {
    throw Error("tfidf embedder: dimensions must be at least 1, got " + std::to_string(options.dimensions));
  }
  std::map<std::string, std::int64_t> document_frequency;
  for (const auto& text : texts) {
    std::vector<std::string> terms = tfidf_terms(text);
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    for (auto& term : terms) ++document_frequency[std::move(term)];
  }
  if (document_frequency.empty()) {
    throw Error("tfidf embedder: none of the " + std::to_string(texts.size()) +
                " texts has a term (a run of two or more letters or digits)");
  }
  TfidfEmbedder embedder;
  const double n = static_cast<double>(texts.size());
  for (const auto& [term, df] : document_frequency) {
    embedder.vocabulary_.push_back(term);
    embedder.idf_.push_back(static_cast<float>(std::log((1.0 + n) / (1.0 + static_cast<double>(df))) + 1.0));
  }
  // Unit components' signs are LAPACK's choice; the largest-magnitude weight of each made positive fixes them.
  const at::Tensor matrix = embedder.tfidf(texts);
  const merge::SingularValueDecomposition svd =
      merge::leading_components(matrix, options.dimensions, matrix.norm().item<double>());
  const at::Tensor largest = svd.vh.gather(1, svd.vh.abs().argmax(1, /*keepdim=*/true));
  embedder.components_ = to_float_matrix(svd.vh * largest.sign());
  return embedder;
}

at::Tensor TfidfEmbedder::tfidf(const std::vector<std::string>& texts) const {
  std::map<std::string, std::int64_t> columns;
  for (std::size_t j = 0; j < vocabulary_.size(); ++j) columns.emplace(vocabulary_[j], static_cast<std::int64_t>(j));
  at::Tensor rows = at::zeros({static_cast<std::int64_t>(texts.size()), static_cast<std::int64_t>(vocabulary_.size())},
                              at::kFloat);
  auto row = rows.accessor<float, 2>();
  const auto counts = term_counts(texts, columns);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    for (const auto& [column, count] : counts[i]) {
      row[static_cast<std::int64_t>(i)][column] = static_cast<float>(count) * idf_[static_cast<std::size_t>(column)];
    }
  }
  return unit_rows(rows);
}

FloatMatrix TfidfEmbedder::embed(const std::vector<std::string>& texts) const {
  return to_float_matrix(unit_rows(at::matmul(tfidf(texts), to_tensor(components_).t())));
}

void TfidfEmbedder::save(const std::filesystem::path& folder) const {
  const nlohmann::json vocabulary = {{"terms", vocabulary_}, {"idf", idf_}};
  io::write_file_atomically(folder / kVocabularyFile, vocabulary.dump() + "\n");
  write_npy(folder / kComponentsFile, components_);
}

TfidfEmbedder TfidfEmbedder::load(const std::filesystem::path& folder) {
  const auto vocabulary_file = folder / kVocabularyFile;
  TfidfEmbedder embedder;
  try {
    const auto json = nlohmann::json::parse(io::read_text_file(vocabulary_file, kVocabularyFileLimit));
    embedder.vocabulary_ = json.at("terms").get<std::vector<std::string>>();
    embedder.idf_ = json.at("idf").get<std::vector<float>>();
  } catch (const nlohmann::json::exception& error) {
    throw Error(vocabulary_file.string() + ": expected {\"terms\": [...], \"idf\": [...]}: " + error.what());
  }
  embedder.components_ = read_npy(folder / kComponentsFile);
  if (embedder.idf_.size() != embedder.vocabulary_.size() ||
      embedder.components_.cols != static_cast<std::int64_t>(embedder.vocabulary_.size())) {
    throw Error(folder.string() + ": " + kVocabularyFile + " has " + std::to_string(embedder.vocabulary_.size()) +
                " terms and " + std::to_string(embedder.idf_.size()) + " idf values, " + kComponentsFile + " " +
                std::to_string(embedder.components_.cols) + " columns: they must agree (delete the folder)");
  }
  return embedder;
}

}  // namespace ladle::clustering
