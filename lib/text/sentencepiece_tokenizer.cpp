#include "lib/text/sentencepiece_tokenizer.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "lib/text/sentencepiece_abi.h"
#include "lib/text/sentencepiece_module_loader.h"
#include "lib/util/error.h"

namespace ladle::text {
namespace {

constexpr std::size_t kErrorSize = 1024;

// Releases a buffer the module allocated, whatever happens after.
struct ModuleBuffer {
  const LadleSpmApi& api;
  void* data = nullptr;
  ~ModuleBuffer() {
    if (data != nullptr) api.free_buffer(data);
  }
};

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_path)
    : model_path_(model_path), api_(&sentencepiece_api()) {
  if (!std::filesystem::is_regular_file(model_path)) {
    throw Error("tokenizer model '" + model_path.string() + "' does not exist or is not a file");
  }
  char error[kErrorSize] = {};
  if (api_->load(model_path.c_str(), &processor_, error, sizeof error) != 0) {
    throw Error("cannot load tokenizer model '" + model_path.string() + "': " + error);
  }
}

SentencePieceTokenizer::~SentencePieceTokenizer() {
  if (processor_ != nullptr) api_->free_processor(processor_);
}

std::vector<std::int64_t> SentencePieceTokenizer::encode(const std::string& text) const {
  char error[kErrorSize] = {};
  ModuleBuffer buffer{*api_};
  int32_t* ids = nullptr;
  std::size_t count = 0;
  if (api_->encode(processor_, text.data(), text.size(), &ids, &count, error, sizeof error) != 0) {
    throw Error("tokenizer '" + model_path_.string() + "': cannot encode text: " + error);
  }
  buffer.data = ids;
  return std::vector<std::int64_t>(ids, ids + count);
}

std::string SentencePieceTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<int32_t> narrowed;
  narrowed.reserve(ids.size());
  for (auto id : ids) {
    require_valid_id(id);
    narrowed.push_back(static_cast<int32_t>(id));
  }
  char error[kErrorSize] = {};
  ModuleBuffer buffer{*api_};
  char* text = nullptr;
  std::size_t size = 0;
  if (api_->decode(processor_, narrowed.data(), narrowed.size(), &text, &size, error, sizeof error) != 0) {
    throw Error("tokenizer '" + model_path_.string() + "': cannot decode ids: " + error);
  }
  buffer.data = text;
  return std::string(text, size);
}

std::int64_t SentencePieceTokenizer::vocab_size() const { return api_->piece_count(processor_); }

std::optional<std::int64_t> SentencePieceTokenizer::piece_id(const std::string& piece) const {
  const auto id = api_->piece_to_id(processor_, piece.data(), piece.size());
  // sentencepiece maps unknown pieces to unk; only an exact match counts as present.
  if (id < 0 || this->piece(id) != piece) return std::nullopt;
  return id;
}

std::string SentencePieceTokenizer::piece(std::int64_t id) const {
  require_valid_id(id);
  ModuleBuffer buffer{*api_};
  char* text = nullptr;
  std::size_t size = 0;
  if (api_->id_to_piece(processor_, static_cast<int32_t>(id), &text, &size) != 0) throw Error("out of memory");
  buffer.data = text;
  return std::string(text, size);
}

std::optional<std::int64_t> SentencePieceTokenizer::special(int which) const {
  const auto id = api_->special_id(processor_, which);
  if (id < 0) return std::nullopt;
  return id;
}

std::optional<std::int64_t> SentencePieceTokenizer::unk_id() const { return special(LADLE_SPM_UNK); }
std::optional<std::int64_t> SentencePieceTokenizer::bos_id() const { return special(LADLE_SPM_BOS); }
std::optional<std::int64_t> SentencePieceTokenizer::eos_id() const { return special(LADLE_SPM_EOS); }
std::optional<std::int64_t> SentencePieceTokenizer::pad_id() const { return special(LADLE_SPM_PAD); }

void SentencePieceTokenizer::require_valid_id(std::int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw Error("tokenizer '" + model_path_.string() + "': token id " + std::to_string(id) +
                " is outside the vocabulary [0, " + std::to_string(vocab_size()) + ")");
  }
}

namespace {

std::string trainer_arguments(const SentencePieceTrainOptions& options, const std::filesystem::path& prefix) {
  std::ostringstream args;
  args << "--input=";
  for (std::size_t i = 0; i < options.inputs.size(); ++i) args << (i ? "," : "") << options.inputs[i].string();
  const auto threads = options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  args << " --model_prefix=" << prefix.string() << " --vocab_size=" << options.vocab_size
       << " --model_type=" << options.model_type << " --character_coverage=" << options.character_coverage
       << " --byte_fallback=" << (options.byte_fallback ? "true" : "false")
       << " --normalization_rule_name=" << options.normalization_rule
       << " --remove_extra_whitespaces=" << (options.remove_extra_whitespaces ? "true" : "false")
       << " --add_dummy_prefix=" << (options.add_dummy_prefix ? "true" : "false")
       << " --input_sentence_size=" << options.input_sentence_size << " --shuffle_input_sentence=true"
       << " --num_threads=" << threads
       << " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3";
  if (!options.user_symbols.empty()) {
    args << " --user_defined_symbols=";
    for (std::size_t i = 0; i < options.user_symbols.size(); ++i) args << (i ? "," : "") << options.user_symbols[i];
  }
  return args.str();
}

// True when the file holds a character other than whitespace; reads only up to the first one.
bool has_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char c = 0;
  while (in.get(c)) {
    if (!std::isspace(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

// sentencepiece's failed checks read "Internal: ./src/file.cc(123) [condition] message": keep the message when
// there is one.
std::string without_check_location(const std::string& error) {
  const std::size_t end = error.rfind("] ");
  const bool located = error.rfind("Internal: ", 0) == 0 && end != std::string::npos && end + 2 < error.size();
  return located ? error.substr(end + 2) : error;
}

void require_trainable(const SentencePieceTrainOptions& options) {
  if (options.inputs.empty()) throw Error("tokenizer training needs at least one input file");
  bool any_text = false;
  for (const auto& input : options.inputs) {
    if (!std::filesystem::is_regular_file(input)) throw Error("tokenizer input '" + input.string() + "' is not a file");
    const auto name = input.string();
    if (name.find_first_of(", ") != std::string::npos) {
      throw Error("tokenizer input '" + name + "': paths with commas or spaces are not supported by sentencepiece");
    }
    any_text = any_text || has_text(input);
  }
  // sentencepiece would fail on it only after its own log lines, with an "Internal" check failure.
  if (!any_text) {
    throw Error("tokenizer input '" + options.inputs.front().string() + "'" +
                (options.inputs.size() > 1 ? " and the others are" : " is") +
                " empty (only whitespace): a tokenizer needs text to learn its pieces from");
  }
  for (const auto& symbol : options.user_symbols) {
    if (symbol.empty() || symbol.find_first_of(", ") != std::string::npos) {
      throw Error("tokenizer user symbol '" + symbol + "' must be non-empty, without commas or spaces");
    }
  }
  if (options.vocab_size < 8) throw Error("tokenizer vocab_size must be at least 8");
  if (options.normalization_rule.empty() || options.normalization_rule.find_first_of(", ") != std::string::npos) {
    throw Error("tokenizer normalization rule '" + options.normalization_rule + "' is not a rule name");
  }
  if (options.model_type != "unigram" && options.model_type != "bpe") {
    throw Error("tokenizer model_type '" + options.model_type + "' is not 'unigram' or 'bpe'");
  }
}

}  // namespace

void train_sentencepiece(const SentencePieceTrainOptions& options) {
  require_trainable(options);
  auto output = options.output;
  if (output.extension() != ".model") throw Error("tokenizer output '" + output.string() + "' must end in .model");
  // sentencepiece writes PREFIX.model and PREFIX.vocab; train under a temporary prefix, then rename.
  const auto prefix = output.parent_path() / (output.stem().string() + ".partial-" + std::to_string(::getpid()));
  if (!output.parent_path().empty()) std::filesystem::create_directories(output.parent_path());
  char error[kErrorSize] = {};
  const auto& api = sentencepiece_api();
  if (api.train(trainer_arguments(options, prefix).c_str(), options.seed, error, sizeof error) != 0) {
    std::filesystem::remove(prefix.string() + ".model");
    std::filesystem::remove(prefix.string() + ".vocab");
    throw Error("tokenizer training failed: " + without_check_location(error));
  }
  std::filesystem::rename(prefix.string() + ".vocab", output.parent_path() / (output.stem().string() + ".vocab"));
  std::filesystem::rename(prefix.string() + ".model", output);
}

}  // namespace ladle::text
