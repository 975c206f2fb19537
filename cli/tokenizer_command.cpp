// `ladle tokenizer train|encode|decode`: make a sentencepiece tokenizer from a corpus, and use any tokenizer
// (a model folder, tokenizer.json, vocab.json + merges.txt or a sentencepiece model; text::open_tokenizer).
#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>

#include "lib/text/hf_tokenizer.h"
#include "lib/text/open_tokenizer.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"
#include "cli/commands.h"

namespace ladle::cli {
namespace {

struct CodecOptions {
  std::string model;
  std::vector<std::string> values;
  bool special_tokens = false;  // encode: add the post-processor's special tokens (Hugging Face tokenizers)
};

constexpr const char* kTokenizerHelp =
    "A model folder or tokenizer file: tokenizer.json, vocab.json + merges.txt, or a sentencepiece tokenizer.model";

void add_train(CLI::App& parent) {
  auto options = std::make_shared<text::SentencePieceTrainOptions>();
  auto inputs = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  auto* command = parent.add_subcommand("train", "Train a sentencepiece tokenizer (unk 0, bos 1, eos 2, pad 3)");
  command->add_option("--input", *inputs, "Plain-text files, one sentence or paragraph per line")->required();
  command->add_option("--output", *output, "The model file to write, e.g. data/tokenizer.model")->required();
  command->add_option("--vocab-size", options->vocab_size, "Pieces in the vocabulary")->capture_default_str();
  command->add_option("--model-type", options->model_type, "unigram or bpe")->capture_default_str();
  command->add_option("--character-coverage", options->character_coverage, "Characters covered by pieces")
      ->capture_default_str();
  command->add_option("--user-symbol", options->user_symbols, "A piece never split, e.g. a chat marker (repeatable)");
  command->add_option("--input-sentence-size", options->input_sentence_size, "Sentences sampled (0 = all)")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Sampling seed")->capture_default_str();
  command->add_option("--normalization-rule", options->normalization_rule, "sentencepiece normalisation rule")
      ->capture_default_str();
  command->callback([options, inputs, output] {
    options->inputs.assign(inputs->begin(), inputs->end());
    options->output = *output;
    text::train_sentencepiece(*options);
    text::SentencePieceTokenizer trained(options->output);
    std::cout << "wrote " << options->output.string() << " (" << trained.vocab_size() << " pieces)\n";
  });
}

void add_encode(CLI::App& parent) {
  auto options = std::make_shared<CodecOptions>();
  auto* command = parent.add_subcommand("encode", "Print the token ids of each text argument, one line each");
  command->add_option("--model", options->model, kTokenizerHelp)->required();
  command->add_option("text", options->values, "Texts to encode")->required();
  command->add_flag("--special-tokens", options->special_tokens,
                    "Add the special tokens of the tokenizer.json post-processor (e.g. <|begin_of_text|>)");
  command->callback([options] {
    const auto tokenizer = text::open_tokenizer(options->model);
    const auto* hf_tokenizer = dynamic_cast<const text::HfTokenizer*>(tokenizer.get());
    if (options->special_tokens && !hf_tokenizer) {
      throw Error("--special-tokens: '" + options->model + "' is not a Hugging Face tokenizer (it has no post-processor)");
    }
    for (const auto& value : options->values) {
      const auto ids = options->special_tokens ? hf_tokenizer->encode_with_special_tokens(value) : tokenizer->encode(value);
      for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
      std::cout << "\n";
    }
  });
}

void add_decode(CLI::App& parent) {
  auto options = std::make_shared<CodecOptions>();
  auto* command = parent.add_subcommand("decode", "Print the text of the token ids given as arguments");
  command->add_option("--model", options->model, kTokenizerHelp)->required();
  command->add_option("ids", options->values, "Token ids")->required();
  command->callback([options] {
    const auto tokenizer = text::open_tokenizer(options->model);
    std::vector<std::int64_t> ids;
    for (const auto& value : options->values) {
      try {
        std::size_t used = 0;
        ids.push_back(std::stoll(value, &used));
        if (used != value.size()) throw std::invalid_argument(value);
      } catch (const std::logic_error&) {
        throw Error("token id '" + value + "' is not a whole number");
      }
    }
    std::cout << tokenizer->decode(ids) << "\n";
  });
}

}  // namespace

void add_tokenizer_command(CLI::App& app) {
  auto* command = app.add_subcommand("tokenizer", "Train sentencepiece tokenizers; encode and decode with any tokenizer");
  command->require_subcommand(1);
  add_train(*command);
  add_encode(*command);
  add_decode(*command);
}

}  // namespace ladle::cli
