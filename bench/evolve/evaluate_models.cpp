// Scores Hugging Face model folders on one held-out instruction set with ladle's held-out evaluator, for the evolve
// experiment's table: one JSON line per model, {"label", "loss", "per_task": {task: loss}}.
// Usage: evaluate_models DATA.jsonl MAX_EXAMPLES LABEL=FOLDER [LABEL=FOLDER ...]
// (the tokenizer is tokenizer.model of the first folder; bf16 autocast; batch 32; seed 0).
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/heldout_evaluator.h"
#include "lib/model/causal_lm_factory.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: evaluate_models DATA.jsonl MAX_EXAMPLES LABEL=FOLDER [LABEL=FOLDER ...]\n";
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> models;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto equals = arg.find('=');
    if (equals == std::string::npos) {
      std::cerr << "expected LABEL=FOLDER, got " << arg << "\n";
      return 2;
    }
    models.emplace_back(arg.substr(0, equals), arg.substr(equals + 1));
  }
  try {
    ladle::trainer::HeldOutEvaluationOptions options;
    options.max_examples = std::stoul(argv[2]);
    options.batch_size = 32;
    options.bf16 = true;
    const ladle::trainer::HeldOutEvaluator evaluator(
        ladle::trainer::load_heldout_tokenizer(models.front().second, ""), {{"test", argv[1]}}, options);
    for (const auto& [label, folder] : models) {
      const auto model = ladle::model::load_causal_lm(folder);
      const auto metrics = evaluator.evaluate(*model);
      nlohmann::json per_task = nlohmann::json::object();
      for (const auto& [name, value] : metrics) {
        if (name.rfind("test/loss/", 0) == 0) per_task[name.substr(10)] = value;
      }
      std::cout << nlohmann::json{{"label", label}, {"loss", metrics.at("test/loss")}, {"per_task", per_task}}.dump()
                << std::endl;
    }
  } catch (const std::exception& error) {
    std::cerr << "evaluate_models: " << error.what() << "\n";
    return 1;
  }
}
