// Scores of Hugging Face model folders on one held-out instruction set (`ladle evaluate`): each folder is loaded
// and scored by a HeldOutEvaluator of its own, so that the set is rendered with that folder's tokenizer and chat
// template (load_heldout_chat_format: its own template, else Tulu v2) as `ladle train` renders its data.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trainer/heldout_evaluator.h"
#include "trainer/metrics.h"

namespace ladle::trainer {

// The label of the held-out set in the metrics: "heldout/loss", "heldout/loss/<task>", "heldout/exact_match/...".
inline constexpr const char* kModelFolderSet = "heldout";

struct LabelledModelFolder {
  std::string label;             // names the model in the table and the JSON line; unique among the models scored
  std::filesystem::path folder;  // a Hugging Face folder (config.json and safetensors)
};

struct ModelFolderEvaluationOptions {
  // Subset sizes, batch size, bf16 and seed; its chat_format is not used (each folder's own is).
  HeldOutEvaluationOptions heldout;
  std::string tokenizer;  // a tokenizer folder or file, or "byte" (load_heldout_tokenizer); empty: each folder's own
  std::string device = "cpu";  // where the model runs (model::resolve_device)
};

struct ModelFolderScores {
  LabelledModelFolder model;
  Metrics metrics;  // as HeldOutEvaluator::evaluate names them, for the set kModelFolderSet
};

// Throws ladle::Error naming the first problem before anything is loaded: `data` missing or not a file, a folder
// missing or without config.json, an empty or repeated label, no model at all.
void check_model_folder_inputs(const std::vector<LabelledModelFolder>& models, const std::filesystem::path& data);

// Loads `model` and scores it on the instruction JSONL `data`.
ModelFolderScores evaluate_model_folder(const LabelledModelFolder& model, const std::filesystem::path& data,
                                        const ModelFolderEvaluationOptions& options);

// One JSON object per model: {"label", "model" (the folder), "loss" (over every reply token), "examples",
// "per_task": {task: loss}, "accuracy": {task: value}, "accuracy_kind": {task: "choice_accuracy" | "exact_match"}}
// (accuracy as trainer/task_accuracy.h picks it; tasks without one are absent from both).
nlohmann::json model_folder_scores_json(const ModelFolderScores& scores);

}  // namespace ladle::trainer
