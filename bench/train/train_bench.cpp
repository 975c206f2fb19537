// ladle's side of the training-throughput benchmark (run_benchmark.sh runs it against python_loop.py): the
// Trainer fine-tunes a fresh Llama from lib/model on fixed-length random token sequences with AdamW, gradient
// clipping and the EMA callback (callbacks::EmaCallback) updated after every optimizer step, and reports training
// tokens per second over the measured steps. It first writes the model's initial weights as a Hugging Face folder, which the Python
// loop loads, so both sides train the same architecture from the same weights on batches of the same shape.
//
// Usage: train_bench --work DIR [--hidden H] [--layers L] [--intermediate I] [--heads N] [--vocab V] [--batch B]
//                    [--seq S] [--warmup W] [--steps N] [--threads T] [--ema-decay D] [--bf16] [--system-malloc]
// Prints one JSON line: {"side": "ladle", "tokens_per_second": ..., "seconds_per_step": ..., ...}.
#include <ATen/Parallel.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "callbacks/averaging_callbacks.h"
#include "lib/log/log.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/dense.h"
#include "lib/text/byte_tokenizer.h"
#include "lib/util/progress_line.h"
#include "lib/model/causal_lm_folder.h"
#include "trainer/trainer.h"

namespace {

using namespace ladle;
using Clock = std::chrono::steady_clock;

struct Settings {
  std::filesystem::path work;
  std::int64_t hidden = 256, layers = 4, intermediate = 688, heads = 4, vocab = 2000;
  std::int64_t batch = 16, seq = 128, warmup = 3, steps = 20;
  int threads = 0;
  double ema_decay = 0.999;
  bool bf16 = false;
  bool retain_freed_memory = true;  // TrainConfig::retain_freed_memory (--system-malloc turns it off)
};

Settings parse(int argc, char** argv) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--bf16" || flag == "--system-malloc") {
      (flag == "--bf16" ? s.bf16 : s.retain_freed_memory) = flag == "--bf16";
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + flag);
    const std::string value = argv[++i];
    if (flag == "--work")
      s.work = value;
    else if (flag == "--ema-decay")
      s.ema_decay = std::stod(value);
    else if (flag == "--threads")
      s.threads = std::stoi(value);
    else if (flag == "--hidden")
      s.hidden = std::stoll(value);
    else if (flag == "--layers")
      s.layers = std::stoll(value);
    else if (flag == "--intermediate")
      s.intermediate = std::stoll(value);
    else if (flag == "--heads")
      s.heads = std::stoll(value);
    else if (flag == "--vocab")
      s.vocab = std::stoll(value);
    else if (flag == "--batch")
      s.batch = std::stoll(value);
    else if (flag == "--seq")
      s.seq = std::stoll(value);
    else if (flag == "--warmup")
      s.warmup = std::stoll(value);
    else if (flag == "--steps")
      s.steps = std::stoll(value);
    else
      throw std::runtime_error("unknown option " + flag);
  }
  if (s.work.empty()) throw std::runtime_error("--work DIR is required");
  return s;
}

// Wall time from the start of the first measured step to the end of the last, and how it splits into forward +
// backward (step_begin to after_backward) and the rest (clipping, optimizer, EMA, callbacks).
class StepTimer : public trainer::Callback {
 public:
  explicit StepTimer(std::int64_t warmup) : warmup_(warmup) {}
  std::string name() const override { return "step_timer"; }
  trainer::CallbackKind kind() const override { return trainer::CallbackKind::observes; }
  void on_event(trainer::Event event, trainer::TrainState& state) override {
    const auto now = Clock::now();
    if (event == trainer::Event::step_begin) {
      if (state.step == warmup_) start_ = now;
      step_start_ = now;
    } else if (event == trainer::Event::after_backward && state.step >= warmup_) {
      forward_backward_ += std::chrono::duration<double>(now - step_start_).count();
    } else if (event == trainer::Event::step_end) {
      end_ = now;
    }
  }
  double seconds() const { return std::chrono::duration<double>(end_ - start_).count(); }
  double forward_backward_seconds() const { return forward_backward_; }

 private:
  std::int64_t warmup_;
  Clock::time_point start_, end_, step_start_;
  double forward_backward_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    const Settings s = parse(argc, argv);
    ProgressLine::set_quiet(true);
    log::LoggingOptions logging;
    logging.console_level = log::Level::warning;
    log::configure_logging(logging);

    nlohmann::json config_json = {{"model_type", "llama"},
                                  {"hidden_size", s.hidden},
                                  {"intermediate_size", s.intermediate},
                                  {"num_hidden_layers", s.layers},
                                  {"num_attention_heads", s.heads},
                                  {"vocab_size", s.vocab},
                                  {"max_position_embeddings", std::max<std::int64_t>(512, s.seq)},
                                  {"rms_norm_eps", 1e-5}};
    auto model = model::create_causal_lm(model::CausalLmConfig::from_json(config_json), /*seed=*/0);
    model::write_causal_lm_folder(*model, s.work / "model");

    // Fixed-length random sequences: every position is a target, so both sides compute the same loss shape.
    std::mt19937_64 random(0);
    std::uniform_int_distribution<std::int64_t> token(4, s.vocab - 1);
    std::vector<text::TokenizedExample> examples;
    for (std::int64_t i = 0; i < s.batch * (s.warmup + s.steps); ++i) {
      text::TokenizedExample example;
      for (std::int64_t t = 0; t < s.seq; ++t) example.input_ids.push_back(token(random));
      example.labels = example.input_ids;
      examples.push_back(std::move(example));
    }
    trainer::TrainingData data;
    data.tokenizer = std::make_shared<text::ByteTokenizer>();
    data.train = std::make_shared<text::TokenizedDataset>(std::move(examples));

    trainer::TrainConfig config;
    config.output_dir = s.work / "ladle-run";
    config.overwrite_output_dir = true;
    config.threads = s.threads;
    config.max_steps = s.warmup + s.steps;
    config.batch_size = static_cast<std::size_t>(s.batch);
    config.bf16 = s.bf16;
    config.retain_freed_memory = s.retain_freed_memory;
    config.log_every_steps = 1000000;
    config.optimizer.lr = 1e-4;
    config.optimizer.weight_decay = 0.01;
    config.evaluation.at_end = false;
    config.checkpoint.at_end = false;
    trainer::Trainer trainer(config, model, data);
    // The EMA a user gets from `averaging: {ema: ...}`: the first update copies, then average ← d·average +
    // (1 − d)·live after every optimizer step, as python_loop.py's AveragedModel; no model written at the end.
    callbacks::EmaOptions ema;
    ema.decay = s.ema_decay;
    callbacks::AveragingCallbackOptions ema_callback;
    ema_callback.evaluate = false;
    ema_callback.save_model = false;
    trainer.add_callback(std::make_shared<callbacks::EmaCallback>(ema, ema_callback));
    auto timer = std::make_shared<StepTimer>(s.warmup);
    trainer.add_callback(timer);
    const auto result = trainer.train();

    const double tokens = static_cast<double>(s.steps * s.batch * s.seq);
    std::cout << nlohmann::json{{"side", "ladle"},
                                {"tokens_per_second", tokens / timer->seconds()},
                                {"seconds_per_step", timer->seconds() / static_cast<double>(s.steps)},
                                {"forward_backward_seconds_per_step",
                                 timer->forward_backward_seconds() / static_cast<double>(s.steps)},
                                {"retain_freed_memory", s.retain_freed_memory},
                                {"fp32_gemm", model::onednn_sgemm_available() ? "onednn" : "aten"},
                                {"final_loss", result.metrics.at("train/loss")},
                                {"threads", at::get_num_threads()},
                                {"bf16", s.bf16}}
                     .dump()
              << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "train_bench: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
