// Callbacks that combine models at the end of a run (Event::train_end, after the final model was written):
//   SoupCallback    a uniform or greedy soup (model_soup.h) of the run's final weights, its kept checkpoints and
//                   the averaged models written at train end (ema/, ema-NAME/, swa/, lawa/), written to
//                   OUTPUT_DIR/soup/
//   WiseFtCallback  a WiSE-FT sweep (wise_ft.h) between the run's starting weights and its final weights,
//                   evaluated on the trainer's held-out set ("id/...") and optionally a shifted set ("ood/..."),
//                   with the table and plot and the chosen alpha's model in OUTPUT_DIR/wise_ft/
// Both need a full fine-tune (the weights themselves, not LoRA adapters): with LoRA they log a warning and do
// nothing. Kind: modifies_weights (they swap weights in to evaluate them); register them after the averaging
// callbacks so that the averaged models exist when the soup gathers its candidates. Every process runs them
// (their evaluations are collective); only the main process writes files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "trainer/heldout_evaluator.h"
#include "callbacks/wise_ft.h"
#include "lib/weights/named_tensors.h"
#include "trainer/callback.h"

namespace ladle::callbacks {

struct SoupCallbackOptions {
  bool greedy = true;               // greedy soup scored on the held-out set (else the uniform soup of all)
  std::string metric = "loss";      // the trainer's evaluation metric that scores it (loss/perplexity: lower wins)
  bool include_checkpoints = true;  // the kept checkpoints' models (OUTPUT_DIR/checkpoints/step-*/model/)
  bool include_averages = true;  // the averaged models written at train end (OUTPUT_DIR/ema/, ema-NAME/, swa/, lawa/)
};

// name "soup". Metrics: "soup_candidate/..." while scoring (greedy), then "soup/..." for the soup.
class SoupCallback final : public trainer::Callback {
 public:
  explicit SoupCallback(SoupCallbackOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "soup"; }
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::modifies_weights; }
  void on_event(trainer::Event event, trainer::TrainState& state) override;

 private:
  SoupCallbackOptions options_;
};

struct WiseFtCallbackOptions {
  std::vector<double> alphas = default_wise_ft_alphas();  // the grid of interpolation weights
  std::filesystem::path shifted;          // a shifted held-out instruction JSONL ("ood/..."); empty: none
  std::string select_metric = "id/loss";  // chooses the alpha written (losses: lowest; accuracies: highest)
  trainer::HeldOutEvaluationOptions shifted_evaluation;  // how the shifted set is evaluated
};

// name "wise_ft". The base is the model the run started from, kept from train_begin (one copy of the weights in
// memory) and carried in checkpoints (tensors "base.<name>"). Evaluations: the trainer's held-out set through
// TrainState::evaluate_with ("id/..." in the sweep) and the shifted set ("ood/..."). Afterwards the run's metrics
// hold "wise_ft/alpha" and the chosen alpha's "wise_ft/<metric>" and "wise_ft_ood/<metric>"; the plot shows
// id/loss against ood/loss.
class WiseFtCallback final : public trainer::Callback {
 public:
  explicit WiseFtCallback(WiseFtCallbackOptions options = {}) : options_(std::move(options)) {}
  std::string name() const override { return "wise_ft"; }
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::modifies_weights; }
  void on_event(trainer::Event event, trainer::TrainState& state) override;
  void save_state(trainer::CallbackState& state) const override;
  void load_state(const trainer::CallbackState& state) override;

  // The sweep of the run's end (empty before).
  const WiseFtSweep& sweep() const { return sweep_; }

 private:
  WiseFtCallbackOptions options_;
  NamedTensors base_;  // the weights the run started from
  WiseFtSweep sweep_;
};

}  // namespace ladle::callbacks
