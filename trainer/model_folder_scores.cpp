#include "trainer/model_folder_scores.h"

#include <set>

#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/device.h"
#include "lib/util/error.h"
#include "trainer/task_accuracy.h"

namespace ladle::trainer {
namespace fs = std::filesystem;

void check_model_folder_inputs(const std::vector<LabelledModelFolder>& models, const fs::path& data) {
  if (!fs::exists(data)) throw Error("held-out data '" + data.string() + "' does not exist");
  if (!fs::is_regular_file(data)) throw Error("held-out data '" + data.string() + "' is not a file");
  if (models.empty()) throw Error("no model folder to evaluate");
  std::set<std::string> labels;
  for (const auto& model : models) {
    const std::string named = "model folder '" + model.folder.string() + "'";
    if (model.label.empty()) throw Error(named + " has an empty label");
    if (!labels.insert(model.label).second) {
      throw Error("the label '" + model.label + "' names two models (" + named + " and an earlier one)");
    }
    if (!fs::is_directory(model.folder)) throw Error(named + " does not exist or is not a folder");
    if (!fs::exists(model.folder / "config.json")) throw Error(named + " has no config.json");
  }
}

ModelFolderScores evaluate_model_folder(const LabelledModelFolder& model, const fs::path& data,
                                        const ModelFolderEvaluationOptions& options) {
  HeldOutEvaluationOptions heldout = options.heldout;
  heldout.chat_format = load_heldout_chat_format(model.folder, options.tokenizer);
  const HeldOutEvaluator evaluator(load_heldout_tokenizer(model.folder, options.tokenizer),
                                   {{kModelFolderSet, data}}, heldout);
  const auto lm = model::load_causal_lm(model.folder, model::resolve_device(options.device, "--device"));
  return {model, evaluator.evaluate(*lm)};
}

nlohmann::json model_folder_scores_json(const ModelFolderScores& scores) {
  const std::string set = kModelFolderSet;
  const std::string task_loss = set + "/loss/";
  nlohmann::json per_task = nlohmann::json::object(), accuracy = nlohmann::json::object(),
                 kind = nlohmann::json::object();
  for (const auto& [name, value] : scores.metrics) {
    if (name.rfind(task_loss, 0) != 0) continue;
    const std::string task = name.substr(task_loss.size());
    per_task[task] = value;
    if (const auto measured = task_accuracy(scores.metrics, set, task)) {
      accuracy[task] = measured->value;
      kind[task] = measured->kind;
    }
  }
  return {{"label", scores.model.label},
          {"model", scores.model.folder.string()},
          {"loss", scores.metrics.at(set + "/loss")},
          {"examples", scores.metrics.at(set + "/examples")},
          {"per_task", per_task},
          {"accuracy", accuracy},
          {"accuracy_kind", kind}};
}

}  // namespace ladle::trainer
