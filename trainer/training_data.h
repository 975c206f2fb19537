// What a run trains and evaluates on (tokenizer, training examples, held-out examples) and the model it starts
// from, built from a TrainConfig or handed to the Trainer by a program.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "lib/model/causal_lm.h"
#include "lib/text/chat_format.h"
#include "lib/text/chat_template.h"
#include "lib/text/example_dataset.h"
#include "lib/text/instruction_record.h"
#include "lib/text/open_tokenizer.h"
#include "lib/text/tokenizer.h"
#include "trainer/train_config.h"

namespace ladle::trainer {

struct TrainingData {
  std::shared_ptr<const text::Tokenizer> tokenizer;   // required: pad/eos ids, generation, saved models
  // How instruction data and valid_records become examples, prompts and choice examples (default: Tulu v2).
  std::shared_ptr<const text::ChatFormat> chat_template = std::make_shared<const text::ChatTemplate>();
  std::shared_ptr<const text::ExampleDataset> train;  // required: what the loader batches
  std::shared_ptr<const text::ExampleDataset> valid;  // held-out examples for loss and Fisher (may be null)
  // The records valid's examples came from, indexed by TokenizedExample::source_index: their prompts are
  // generated from (exact match) and their replies scored (choices). Empty: loss-only evaluation.
  std::vector<text::InstructionRecord> valid_records;
  // Copied into every saved model folder (tokenizer.json and its companions, or a tokenizer.model); empty: none.
  std::vector<std::filesystem::path> tokenizer_files;
};

// The tokenizer config.tokenizer names (text::open_tokenizer picks the kind for type auto), training a
// sentencepiece model first when there is none and train_input is set (see TokenizerConfig). The chat markers are
// user symbols of a trained model and symbols of the byte tokenizer.
std::shared_ptr<const text::Tokenizer> load_tokenizer(const TrainConfig& config);
// Where the tokenizer load_tokenizer reads is (or a sentencepiece model it trains will be); file and files are
// empty for the byte tokenizer.
text::TokenizerLocation tokenizer_location(const TrainConfig& config);

// The chat format of instruction data: the model's own template (model.path's or the tokenizer folder's
// tokenizer_config.json) unless data.chat_template is tulu or there is none; else Tulu v2. Either way with
// data.max_length and train_on_all_tokens.
std::shared_ptr<const text::ChatFormat> load_chat_format(const TrainConfig& config);

// Reads and tokenizes config.data: instructions through load_chat_format (data.max_length,
// train_on_all_tokens, tasks, max_train_examples), plain text as blocks of data.block_size tokens (the corpus
// tokens cached under cache_dir). Throws ladle::Error naming the file for unreadable or empty data.
TrainingData load_training_data(const TrainConfig& config, std::shared_ptr<const text::Tokenizer> tokenizer,
                                const std::filesystem::path& cache_dir);

// The model to train, on `device` (config.device as this process resolves it: process_device): config.model.path loaded in fp32, or a fresh model from config.model.config /
// config_file (vocab_size, bos/eos/pad ids defaulting to the tokenizer's) initialised from init_seed. Throws
// ladle::Error when the tokenizer's ids do not fit the model's vocabulary.
std::shared_ptr<model::CausalLm> load_model(const TrainConfig& config, const text::Tokenizer& tokenizer,
                                           c10::Device device);

}  // namespace ladle::trainer
