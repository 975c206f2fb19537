// Small fixtures for the trainer's tests: a handful of instruction records, a tiny Llama over the byte tokenizer,
// a config that trains it in a fraction of a second on one thread, and a callback that records what it sees.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/text/byte_tokenizer.h"
#include "lib/text/instruction_dataset.h"
#include "trainer/callback.h"
#include "trainer/train_config.h"
#include "trainer/train_state.h"
#include "trainer/training_data.h"

namespace ladle::trainer::testing {

// Record i: task "add" ("What is a + b?" -> the sum) for even i, task "echo" ("Repeat: w" -> w) for odd i, with
// prompts and replies of different lengths.
inline std::vector<text::InstructionRecord> tiny_records(std::size_t count, std::size_t first = 0) {
  static const char* words[] = {"cat", "river", "blue", "seventeen", "ox", "lantern", "moss", "quiet"};
  std::vector<text::InstructionRecord> records;
  for (std::size_t i = first; i < first + count; ++i) {
    text::InstructionRecord record;
    if (i % 2 == 0) {
      const std::size_t a = 3 * i + 1, b = 7 * i % 23;
      record.messages = {{text::ChatRole::user, "What is " + std::to_string(a) + " + " + std::to_string(b) + "?"},
                         {text::ChatRole::assistant, std::to_string(a + b)}};
      record.task = "add";
    } else {
      const std::string word = words[i % 8];
      record.messages = {{text::ChatRole::user, "Repeat: " + word}, {text::ChatRole::assistant, word}};
      record.task = "echo";
    }
    record.line = i - first + 1;
    records.push_back(record);
  }
  return records;
}

// The records as Alpaca JSONL lines.
inline void write_jsonl(const std::filesystem::path& path, const std::vector<text::InstructionRecord>& records) {
  std::ofstream out(path);
  for (const auto& record : records) {
    out << nlohmann::json{{"instruction", record.messages.front().content},
                          {"output", record.messages.back().content},
                          {"task", record.task}}
               .dump()
        << "\n";
  }
}

inline std::shared_ptr<const text::Tokenizer> tiny_tokenizer() {
  return std::make_shared<text::ByteTokenizer>(std::vector<std::string>{"<|system|>", "<|user|>", "<|assistant|>"});
}

// Training (and held-out) data from tiny_records, tokenized with the byte tokenizer.
inline TrainingData tiny_data(std::size_t train_count, std::size_t valid_count = 0) {
  TrainingData data;
  data.tokenizer = tiny_tokenizer();
  data.train = text::tokenize_instructions(tiny_records(train_count), *data.chat_template, *data.tokenizer);
  if (valid_count > 0) {
    data.valid_records = tiny_records(valid_count, 1000);
    data.valid = text::tokenize_instructions(data.valid_records, *data.chat_template, *data.tokenizer);
  }
  return data;
}

// A 2-layer Llama with hidden size 16 over the byte tokenizer's 263 ids.
inline nlohmann::json tiny_llama_json(double attention_dropout = 0.0) {
  return {{"model_type", "llama"},
          {"hidden_size", 16},
          {"intermediate_size", 32},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"vocab_size", 263},
          {"max_position_embeddings", 256},
          {"attention_dropout", attention_dropout},
          {"eos_token_id", 2}};
}

inline std::shared_ptr<model::CausalLm> tiny_model(double attention_dropout = 0.0, std::uint64_t seed = 0) {
  return model::create_causal_lm(model::CausalLmConfig::from_json(tiny_llama_json(attention_dropout)), seed);
}

// One thread, no evaluation, no checkpoints unless a test asks, 4 steps of 2 examples.
inline TrainConfig tiny_config(const std::filesystem::path& output_dir) {
  TrainConfig config;
  config.output_dir = output_dir;
  config.threads = 1;
  config.max_steps = 4;
  config.batch_size = 2;
  config.log_every_steps = 1;
  config.evaluation.at_end = false;
  config.checkpoint.at_end = false;
  return config;
}

// Copies of the model's parameters under their names.
inline NamedTensors parameters_of(const model::CausalLm& model) {
  NamedTensors copy;
  for (const auto& item : model.named_parameters(/*recurse=*/true))
    copy.insert(item.key(), item.value().detach().clone());
  return copy;
}

// Every tensor equal to the last bit (same names, same order).
inline void expect_bitwise_equal(const NamedTensors& a, const NamedTensors& b) {
  ASSERT_EQ(a.names(), b.names());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(at::equal(tensor, b.at(name))) << name;
}

// Records "event" or "event@step" for every event, and optionally asks for a checkpoint and a stop at a step.
class EventRecorder : public Callback {
 public:
  explicit EventRecorder(std::string name = "recorder", CallbackKind kind = CallbackKind::observes,
                         std::vector<std::string>* shared_log = nullptr)
      : name_(std::move(name)), kind_(kind), log_(shared_log != nullptr ? shared_log : &own_log_) {}
  std::string name() const override { return name_; }
  CallbackKind kind() const override { return kind_; }
  void on_event(Event event, TrainState& state) override {
    log_->push_back(shared_log_prefix() + event_name(event));
    if (event == Event::step_end && state.step == stop_at_step) {
      state.request_checkpoint();
      state.request_stop();
    }
  }
  const std::vector<std::string>& log() const { return *log_; }
  std::int64_t stop_at_step = -1;  // request a checkpoint and a stop at the end of this step

 private:
  std::string shared_log_prefix() const { return log_ == &own_log_ ? "" : name_ + ":"; }
  std::string name_;
  CallbackKind kind_;
  std::vector<std::string> own_log_;
  std::vector<std::string>* log_;
};

}  // namespace ladle::trainer::testing
