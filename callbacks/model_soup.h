// Model soups (Wortsman et al., "Model soups: averaging weights of multiple fine-tuned models improves accuracy
// without increasing inference time", ICML 2022): the uniform soup averages every candidate; the greedy soup
// (their Recipe 1) adds candidates in order of held-out score and keeps one only when the soup's held-out score
// strictly improves.
//
// Candidates share an architecture (same tensor names and shapes). A soup is computed in fp32 (fp64 where a
// candidate is fp64) and rounded to the first candidate's dtype per tensor; non-floating tensors are taken from
// the first candidate.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lib/io/checkpoint_writer.h"
#include "lib/weights/named_tensors.h"

namespace ladle::callbacks {

// The uniform soup of candidates in memory: Σᵢ θᵢ / n, name by name (weighted_mean with equal weights: the sum is
// divided once, in candidate order). Throws ladle::Error naming the first candidate whose layout differs.
NamedTensors uniform_soup(const std::vector<const NamedTensors*>& candidates);

// How candidates are read from their folders.
struct SoupInputOptions {
  // NaN or ±Inf in a candidate's tensor would pass into every soup it joins: by default each tensor is checked as
  // it is read and the first such one is an error naming the candidate and the tensor (lib/weights/nonfinite_values.h).
  bool allow_nonfinite = false;
};

// The uniform soup of Hugging Face folders (or .safetensors files), streamed tensor by tensor into a new folder at
// `output` (config.json and the tokenizer files are copied from the first candidate). Peak memory is one tensor
// per candidate. Returns `output`.
std::filesystem::path uniform_soup(const std::vector<std::filesystem::path>& candidates,
                                   const std::filesystem::path& output, const io::CheckpointWriteOptions& options = {},
                                   const SoupInputOptions& input = {});

// A held-out score of some weights (e.g. minus the validation loss, or an accuracy).
using SoupScoreFn = std::function<double(const NamedTensors& weights)>;

struct GreedySoupOptions {
  bool higher_is_better = true;  // false for scores such as a loss, where lower is better
};

// One candidate's part in a greedy soup, in the order they were tried.
struct GreedySoupStep {
  std::size_t candidate = 0;        // index into the candidates given
  double individual_score = 0.0;    // the candidate's own score
  std::optional<double> soup_score;  // the score of the soup with this candidate added (none for the first)
  bool accepted = false;            // whether it stayed in the soup
};

struct GreedySoupResult {
  NamedTensors weights;                  // the soup, in the first candidate's dtypes
  std::vector<std::size_t> ingredients;  // candidate indices in the soup, in the order they were added
  double score = 0.0;                    // the soup's score
  std::vector<GreedySoupStep> steps;     // every candidate, best individual score first
};

// Recipe 1 of Wortsman et al.: score every candidate; sort them by score, best first (ties keep the given order);
// start the soup with the best; for each next candidate, score the uniform soup of the ingredients plus it, and
// keep it only when that score is strictly better than the soup's current score (as the paper's reference code
// compares with `>`). The result's weights equal uniform_soup of its ingredients in the order they were added.
// `score` is called once per candidate and once per candidate after the first.
GreedySoupResult greedy_soup(const std::vector<const NamedTensors*>& candidates, const SoupScoreFn& score,
                             const GreedySoupOptions& options = {});
// The same over Hugging Face folders (or .safetensors files), each memory-mapped while it is scored or added:
// memory holds the soup's fp32 sum, one trial soup and the mapped candidate.
GreedySoupResult greedy_soup(const std::vector<std::filesystem::path>& candidates, const SoupScoreFn& score,
                             const GreedySoupOptions& options = {}, const SoupInputOptions& input = {});

// Human-readable lines, one per step: candidate label, individual score, soup score, kept or rejected.
std::string describe_greedy_soup(const GreedySoupResult& result, const std::vector<std::string>& labels);

}  // namespace ladle::callbacks
