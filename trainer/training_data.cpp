#include "trainer/training_data.h"

#include <algorithm>

#include "lib/log/log.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/json_file.h"
#include "lib/text/byte_tokenizer.h"
#include "lib/text/corpus_tokens.h"
#include "lib/text/instruction_dataset.h"
#include "lib/text/model_chat_template.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/text/token_block_dataset.h"
#include "lib/util/error.h"
#include "lib/weights/nonfinite_values.h"

namespace ladle::trainer {
namespace {

const std::vector<std::string> kChatMarkers = {"<|system|>", "<|user|>", "<|assistant|>"};

std::shared_ptr<const text::ExampleDataset> instruction_dataset(const std::filesystem::path& path,
                                                                const TrainConfig& config,
                                                                const text::ChatFormat& chat_format,
                                                                const text::Tokenizer& tokenizer,
                                                                std::vector<text::InstructionRecord>* records_out) {
  text::InstructionReadOptions read_options;
  read_options.skip_bad_lines = config.data.skip_bad_lines;
  text::InstructionSet set = text::read_instruction_jsonl(path, read_options);
  if (set.skipped_lines > 0) {
    LADLE_LOG(warning) << path.string() << ": skipped " << set.skipped_lines << " malformed lines";
  }
  std::shared_ptr<const text::ExampleDataset> dataset =
      text::tokenize_instructions(set.records, chat_format, tokenizer);
  if (!config.data.tasks.empty()) dataset = text::filter_by_task(dataset, config.data.tasks);
  if (dataset->size() == 0) throw Error(path.string() + ": no example left to train or evaluate on");
  if (records_out != nullptr) *records_out = std::move(set.records);
  return dataset;
}

std::shared_ptr<const text::ExampleDataset> text_dataset(const std::filesystem::path& path, const TrainConfig& config,
                                                         const text::Tokenizer& tokenizer,
                                                         const std::filesystem::path& cache_dir) {
  text::TokenCache tokens;
  const auto file = tokenizer_location(config).file;
  if (file.empty()) {
    tokens = text::tokenize_corpus(path, tokenizer);
  } else {
    text::CorpusCacheOptions options;
    options.corpus = path;
    options.tokenizer_file = file;
    options.cache = cache_dir / (path.filename().string() + ".tokens");
    tokens = text::load_or_tokenize_corpus(options, tokenizer);
  }
  auto ids = std::make_shared<const std::vector<std::int32_t>>(std::move(tokens.tokens));
  auto dataset = std::make_shared<text::TokenBlockDataset>(ids, config.data.block_size);
  if (dataset->size() == 0) {
    throw Error(path.string() + ": " + std::to_string(ids->size()) + " tokens make no block of data.block_size " +
                std::to_string(config.data.block_size));
  }
  return dataset;
}

// An id the model must be able to embed.
void require_in_vocabulary(std::optional<std::int64_t> id, const char* what, std::int64_t vocab_size) {
  if (id && *id >= vocab_size) {
    throw Error(std::string("the tokenizer's ") + what + " id " + std::to_string(*id) +
                " is outside the model's vocabulary of " + std::to_string(vocab_size));
  }
}

// A NaN or infinity in the starting weights would first show as a NaN loss at step 1, which reads as divergence:
// refuse it before training, naming the tensor and the file that holds it.
void require_finite_weights(const std::filesystem::path& model_path) {
  const io::CheckpointReader checkpoint(model_path);
  for (const auto& name : checkpoint.names()) {
    const at::Tensor tensor = checkpoint.tensor(name);
    const std::int64_t count = count_nonfinite(tensor);
    if (count == 0) continue;
    throw Error("model.path: " + checkpoint.shard_of(name).path().string() + ": tensor '" + name + "' has " +
                std::to_string(count) + " NaN or infinite value" + (count == 1 ? "" : "s") + " (of " +
                std::to_string(tensor.numel()) + "); training would diverge at once: start from another checkpoint");
  }
}

}  // namespace

text::TokenizerLocation tokenizer_location(const TrainConfig& config) {
  const auto& tokenizer = config.tokenizer;
  if (tokenizer.type == TokenizerKind::byte) return {text::TokenizerFormat::sentencepiece, {}, {}};
  std::filesystem::path file = tokenizer.path;
  if (tokenizer.type == TokenizerKind::automatic) {
    const auto where = tokenizer.path.empty() ? config.model.path : tokenizer.path;
    if (auto found = text::find_tokenizer(where)) return *found;
    // None there yet: the sentencepiece model train_input makes goes into the folder, or to the file named.
    std::error_code error;
    file = tokenizer.path.empty() || std::filesystem::is_directory(where, error) ? where / "tokenizer.model" : where;
  } else if (file.empty()) {
    file = config.model.path / "tokenizer.model";
  }
  return {text::TokenizerFormat::sentencepiece, file, {file}};
}

std::shared_ptr<const text::ChatFormat> load_chat_format(const TrainConfig& config) {
  if (config.data.chat_template == ChatTemplateChoice::automatic) {
    text::ModelChatTemplateOptions options;
    options.max_length = config.data.max_length;
    options.train_on_all_tokens = config.data.train_on_all_tokens;
    // The model folder first, then the folder of the tokenizer it was given.
    std::vector<std::filesystem::path> folders;
    if (!config.model.path.empty()) folders.push_back(config.model.path);
    if (!config.tokenizer.path.empty()) {
      std::error_code error;
      folders.push_back(std::filesystem::is_directory(config.tokenizer.path, error) ? config.tokenizer.path
                                                                                    : config.tokenizer.path.parent_path());
    }
    for (const auto& folder : folders) {
      if (auto chat = text::read_model_chat_template(folder, options)) {
        LADLE_LOG(info) << "chat template: the model's own, from " << folder.string() << " (replies end with '"
                        << chat->end_of_turn() << "')";
        return chat;
      }
    }
  }
  text::ChatTemplateOptions options;
  options.max_length = config.data.max_length;
  options.train_on_all_tokens = config.data.train_on_all_tokens;
  return std::make_shared<const text::ChatTemplate>(options);
}

std::shared_ptr<const text::Tokenizer> load_tokenizer(const TrainConfig& config) {
  if (config.tokenizer.type == TokenizerKind::byte) return std::make_shared<text::ByteTokenizer>(kChatMarkers);
  const auto location = tokenizer_location(config);
  if (location.format != text::TokenizerFormat::sentencepiece) return text::open_tokenizer(location);
  const auto& file = location.file;
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    if (config.tokenizer.train_input.empty()) {
      throw Error("tokenizer.path: '" + file.string() + "' does not exist (set tokenizer.train_input to train one)");
    }
    LADLE_LOG(info) << "training a sentencepiece tokenizer (" << config.tokenizer.vocab_size << " pieces) on "
                    << config.tokenizer.train_input.string() << " -> " << file.string();
    text::SentencePieceTrainOptions options;
    options.inputs = {config.tokenizer.train_input};
    options.output = file;
    options.vocab_size = config.tokenizer.vocab_size;
    options.user_symbols = kChatMarkers;
    options.input_sentence_size = config.tokenizer.train_sentences;
    options.seed = static_cast<std::uint32_t>(config.seed);
    if (!file.parent_path().empty()) std::filesystem::create_directories(file.parent_path());
    text::train_sentencepiece(options);
  }
  return std::make_shared<text::SentencePieceTokenizer>(file);
}

TrainingData load_training_data(const TrainConfig& config, std::shared_ptr<const text::Tokenizer> tokenizer,
                                const std::filesystem::path& cache_dir) {
  TrainingData data;
  data.tokenizer = std::move(tokenizer);
  data.chat_template = load_chat_format(config);
  data.tokenizer_files = tokenizer_location(config).files;
  const text::Tokenizer& t = *data.tokenizer;
  if (config.data.format == DataFormat::instructions) {
    data.train = instruction_dataset(config.data.train, config, *data.chat_template, t, nullptr);
    if (!config.data.valid.empty()) {
      data.valid = instruction_dataset(config.data.valid, config, *data.chat_template, t, &data.valid_records);
    }
  } else {
    data.train = text_dataset(config.data.train, config, t, cache_dir);
    if (!config.data.valid.empty()) data.valid = text_dataset(config.data.valid, config, t, cache_dir);
  }
  if (config.data.max_train_examples > 0 && config.data.max_train_examples < data.train->size()) {
    data.train = text::random_subset(data.train, config.data.max_train_examples, config.seed);
  }
  LADLE_LOG(info) << "data: " << data.train->size() << " training examples"
                  << (data.valid ? ", " + std::to_string(data.valid->size()) + " held-out" : std::string());
  return data;
}

std::shared_ptr<model::CausalLm> load_model(const TrainConfig& config, const text::Tokenizer& tokenizer,
                                           c10::Device device) {
  std::shared_ptr<model::CausalLm> model;
  if (!config.model.path.empty()) {
    require_finite_weights(config.model.path);
    model = model::load_causal_lm(config.model.path, device);
    LADLE_LOG(info) << "model: " << config.model.path.string() << " (" << model->config().architecture << ")";
  } else {
    nlohmann::json json =
        config.model.config_file.empty() ? config.model.config : io::read_json_file(config.model.config_file);
    const std::string source = config.model.config_file.empty() ? "model.config" : config.model.config_file.string();
    if (!json.is_object()) throw Error(source + ": expected an object of config.json fields");
    if (!json.contains("architectures") && !json.contains("model_type")) json["model_type"] = "llama";
    if (!json.contains("vocab_size")) json["vocab_size"] = tokenizer.vocab_size();
    const std::pair<const char*, std::optional<std::int64_t>> special[] = {{"bos_token_id", tokenizer.bos_id()},
                                                                           {"eos_token_id", tokenizer.eos_id()},
                                                                           {"pad_token_id", tokenizer.pad_id()}};
    for (const auto& [key, id] : special) {
      if (!json.contains(key) && id) json[key] = *id;
    }
    const auto model_config = model::CausalLmConfig::from_json(json, source);
    model = model::create_causal_lm(model_config, config.model.init_seed);
    if (!device.is_cpu()) model->to(device);
    LADLE_LOG(info) << "model: a fresh " << model_config.architecture << " (hidden " << model_config.hidden_size << ", "
                    << model_config.num_hidden_layers << " layers, vocabulary " << model_config.vocab_size
                    << ") from seed " << config.model.init_seed;
  }
  const std::int64_t vocab = model->config().vocab_size;
  if (tokenizer.vocab_size() > vocab) {
    throw Error("the tokenizer has " + std::to_string(tokenizer.vocab_size()) + " tokens but the model's vocabulary " +
                std::to_string(vocab) + " (model vocab_size must be at least the tokenizer's)");
  }
  require_in_vocabulary(tokenizer.bos_id(), "bos", vocab);
  require_in_vocabulary(tokenizer.eos_id(), "eos", vocab);
  require_in_vocabulary(tokenizer.pad_id(), "pad", vocab);
  return model;
}

}  // namespace ladle::trainer
