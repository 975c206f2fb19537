// ExampleScores: one model's score on every example of a held-out set, in the set's order (its loss examples, then
// its generation items), so that two models evaluated on the same set can be compared example by example (a
// paired bootstrap, lib/util/confidence_interval.h). Torch-free; kept as JSON beside the metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

namespace ladle::trainer {

struct ExampleScores {
  std::vector<double> loss_sum;  // per loss example: the sum of its target tokens' losses
  std::vector<double> tokens;    // per loss example: its target tokens
  // Per generation item: 1 when answered right, else 0 (choice among the candidates when it has some, else greedy
  // exact match: what the report's task accuracy takes).
  std::vector<double> accuracy;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ExampleScores, loss_sum, tokens, accuracy)

}  // namespace ladle::trainer
