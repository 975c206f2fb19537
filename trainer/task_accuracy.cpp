#include "trainer/task_accuracy.h"

namespace ladle::trainer {

std::optional<TaskAccuracy> task_accuracy(const Metrics& metrics, const std::string& set, const std::string& task) {
  for (const char* kind : {"choice_accuracy", "exact_match"}) {
    const auto found = metrics.find(set + "/" + kind + "/" + task);
    if (found != metrics.end()) return TaskAccuracy{kind, found->second};
  }
  return std::nullopt;
}

}  // namespace ladle::trainer
