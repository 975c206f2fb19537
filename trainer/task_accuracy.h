// A task's accuracy among the held-out metrics (trainer/evaluator.h names them): choice accuracy (the likeliest
// of the task's candidate replies is the reference) when the task has candidates, else greedy exact match. Both
// reports that put one accuracy per task (`ladle dtm`'s and `ladle evaluate`'s) pick it here. Torch-free.
#pragma once

#include <optional>
#include <string>

#include "trainer/metrics.h"

namespace ladle::trainer {

struct TaskAccuracy {
  std::string kind;  // the metric it is: "choice_accuracy" or "exact_match"
  double value = 0;  // in [0, 1]
};

// `set`'s accuracy of `task` ("<set>/choice_accuracy/<task>", else "<set>/exact_match/<task>"); nullopt when
// neither was measured.
std::optional<TaskAccuracy> task_accuracy(const Metrics& metrics, const std::string& set, const std::string& task);

}  // namespace ladle::trainer
