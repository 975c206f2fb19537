// A custom training callback: it remembers the best held-out loss seen so far, asks for a checkpoint whenever
// the loss improves, and keeps its memory in the checkpoints, so a resumed run still knows the best loss.
//
//   custom_callback [OUTPUT_DIR]          trains a tiny model on generated arithmetic questions (a few seconds)
//   custom_callback OUTPUT_DIR --resume   continues that run from its latest checkpoint
//
// The callback contract (events, order, state) is described in trainer/event.h and trainer/callback.h.
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "lib/model/causal_lm_factory.h"
#include "lib/text/byte_tokenizer.h"
#include "lib/text/instruction_dataset.h"
#include "trainer/trainer.h"

namespace {

using namespace ladle;

class BestEvalLoss : public trainer::Callback {
 public:
  // The key of this callback's state in checkpoints: keep it stable across versions of the program.
  std::string name() const override { return "best_eval_loss"; }
  // It only reads the state (requesting a checkpoint does not change the weights).
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::observes; }

  void on_event(trainer::Event event, trainer::TrainState& state) override {
    if (event != trainer::Event::after_evaluation) return;
    const double loss = state.metrics.at("eval/loss");
    if (loss >= best_loss_) return;
    best_loss_ = loss;
    best_step_ = state.step;
    state.request_checkpoint();  // written after every callback has seen this step's step_end
    if (state.is_main_process()) std::cout << "new best eval/loss " << loss << " at step " << state.step << "\n";
  }

  void save_state(trainer::CallbackState& state) const override {
    state.json = {{"best_loss", best_loss_}, {"best_step", best_step_}};
  }
  void load_state(const trainer::CallbackState& state) override {
    best_loss_ = state.json.at("best_loss").get<double>();
    best_step_ = state.json.at("best_step").get<std::int64_t>();
  }

  double best_loss() const { return best_loss_; }
  std::int64_t best_step() const { return best_step_; }

 private:
  double best_loss_ = std::numeric_limits<double>::max();
  std::int64_t best_step_ = -1;
};

// "What is a + b?" -> the sum, for small a and b.
std::vector<text::InstructionRecord> arithmetic(std::size_t count, std::size_t first) {
  std::vector<text::InstructionRecord> records;
  for (std::size_t i = first; i < first + count; ++i) {
    const std::size_t a = i % 10, b = (i / 10) % 10;
    text::InstructionRecord record;
    record.messages = {{text::ChatRole::user, "What is " + std::to_string(a) + " + " + std::to_string(b) + "?"},
                       {text::ChatRole::assistant, std::to_string(a + b)}};
    record.task = "addition";
    records.push_back(record);
  }
  return records;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string output_dir = argc > 1 ? argv[1] : "out/custom-callback";
    const bool resume = argc > 2 && std::strcmp(argv[2], "--resume") == 0;

    trainer::TrainingData data;
    data.tokenizer = std::make_shared<text::ByteTokenizer>(std::vector<std::string>{"<|user|>", "<|assistant|>"});
    data.train = text::tokenize_instructions(arithmetic(80, 0), *data.chat_template, *data.tokenizer);
    data.valid_records = arithmetic(20, 80);
    data.valid = text::tokenize_instructions(data.valid_records, *data.chat_template, *data.tokenizer);

    model::CausalLmConfig model_config = model::CausalLmConfig::defaults_for("LlamaForCausalLM");
    model_config.vocab_size = data.tokenizer->vocab_size();
    model_config.hidden_size = 64;
    model_config.intermediate_size = 128;
    model_config.num_hidden_layers = 2;
    model_config.num_attention_heads = 4;
    model_config.max_position_embeddings = 128;
    auto model = model::create_causal_lm(model_config, /*seed=*/0);

    trainer::TrainConfig config;  // every field has its default at the declaration (trainer/train_config.h)
    config.output_dir = output_dir;
    config.max_steps = 120;
    config.batch_size = 8;
    config.optimizer.lr = 3e-3;
    config.evaluation.every_steps = 20;
    config.evaluation.generation_examples = 20;
    config.evaluation.max_new_tokens = 4;
    config.checkpoint.keep_last = 0;  // keep every checkpoint the callback asks for

    trainer::Trainer trainer(config, model, data);
    auto best = std::make_shared<BestEvalLoss>();
    trainer.add_callback(best);
    const auto result = trainer.train(resume ? std::optional<std::filesystem::path>(output_dir) : std::nullopt);
    std::cout << "best eval/loss " << best->best_loss() << " at step " << best->best_step() << "; final exact match "
              << result.metrics.at("eval/exact_match") << "; model in " << result.final_model_dir.string() << "\n";
  } catch (const std::exception& error) {
    std::cerr << "custom_callback: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
