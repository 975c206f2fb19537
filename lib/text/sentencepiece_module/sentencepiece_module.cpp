// libladle_sentencepiece.so: the only code in ladle that links sentencepiece (see sentencepiece_abi.h for why).
// No exception and no C++ type crosses the boundary: failures become messages in the caller's buffer.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "lib/text/sentencepiece_abi.h"

// Not in the installed headers, but exported by libsentencepiece (src/common.h: LOG(severity) prints when
// severity >= GetMinLogLevel(); INFO 0, WARNING 1, ERROR 2, FATAL 3).
namespace sentencepiece::logging {
void SetMinLogLevel(int level);
}

struct LadleSpmProcessor {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

// sentencepiece's LOG_FATAL: its own lines only before it aborts. Its failures come back as statuses, which ladle
// reports as its one error line; its progress lines would break that line's contract (and --quiet).
constexpr int kFatalLevel = 3;

int fail(const std::string& message, char* error, size_t error_size) {
  if (error != nullptr && error_size > 0) {
    std::strncpy(error, message.c_str(), error_size - 1);
    error[error_size - 1] = '\0';
  }
  return 1;
}

template <typename T>
T* copy_to_malloc(const T* data, size_t count) {
  auto* buffer = static_cast<T*>(std::malloc(count == 0 ? 1 : count * sizeof(T)));
  if (buffer != nullptr && count > 0) std::memcpy(buffer, data, count * sizeof(T));
  return buffer;
}

int load(const char* model_path, LadleSpmProcessor** processor, char* error, size_t error_size) {
  auto loaded = new (std::nothrow) LadleSpmProcessor();
  if (loaded == nullptr) return fail("out of memory", error, error_size);
  const auto status = loaded->processor.Load(model_path);
  if (!status.ok()) {
    delete loaded;
    return fail(status.ToString(), error, error_size);
  }
  *processor = loaded;
  return 0;
}

void free_processor(LadleSpmProcessor* processor) { delete processor; }

int encode(const LadleSpmProcessor* processor, const char* text, size_t text_size, int32_t** ids, size_t* count,
           char* error, size_t error_size) {
  std::vector<int> encoded;
  const auto status = processor->processor.Encode(absl::string_view(text, text_size), &encoded);
  if (!status.ok()) return fail(status.ToString(), error, error_size);
  std::vector<int32_t> narrowed(encoded.begin(), encoded.end());
  *ids = copy_to_malloc(narrowed.data(), narrowed.size());
  *count = narrowed.size();
  return *ids == nullptr ? fail("out of memory", error, error_size) : 0;
}

int decode(const LadleSpmProcessor* processor, const int32_t* ids, size_t count, char** text, size_t* text_size,
           char* error, size_t error_size) {
  std::string decoded;
  const auto status = processor->processor.Decode(std::vector<int>(ids, ids + count), &decoded);
  if (!status.ok()) return fail(status.ToString(), error, error_size);
  *text = copy_to_malloc(decoded.data(), decoded.size());
  *text_size = decoded.size();
  return *text == nullptr ? fail("out of memory", error, error_size) : 0;
}

void free_buffer(void* buffer) { std::free(buffer); }

int32_t piece_count(const LadleSpmProcessor* processor) { return processor->processor.GetPieceSize(); }

int32_t piece_to_id(const LadleSpmProcessor* processor, const char* piece, size_t piece_size) {
  return processor->processor.PieceToId(absl::string_view(piece, piece_size));
}

int id_to_piece(const LadleSpmProcessor* processor, int32_t id, char** piece, size_t* piece_size) {
  const std::string& text = processor->processor.IdToPiece(id);
  *piece = copy_to_malloc(text.data(), text.size());
  *piece_size = text.size();
  return *piece == nullptr ? 1 : 0;
}

int32_t special_id(const LadleSpmProcessor* processor, int which) {
  switch (which) {
    case LADLE_SPM_UNK: return processor->processor.unk_id();
    case LADLE_SPM_BOS: return processor->processor.bos_id();
    case LADLE_SPM_EOS: return processor->processor.eos_id();
    case LADLE_SPM_PAD: return processor->processor.pad_id();
    default: return -1;
  }
}

int is_control(const LadleSpmProcessor* processor, int32_t id) { return processor->processor.IsControl(id) ? 1 : 0; }

int train(const char* arguments, unsigned int seed, char* error, size_t error_size) {
  sentencepiece::SetRandomGeneratorSeed(seed);
  // Set here rather than with --minloglevel, which sentencepiece applies only after it has logged the whole
  // command line at INFO level.
  sentencepiece::logging::SetMinLogLevel(kFatalLevel);
  const auto status = sentencepiece::SentencePieceTrainer::Train(arguments);
  return status.ok() ? 0 : fail(status.ToString(), error, error_size);
}

const LadleSpmApi api = {LADLE_SPM_ABI_VERSION, load,     free_processor, encode,      decode,     free_buffer,
                         piece_count,           piece_to_id, id_to_piece, special_id, is_control, train};

}  // namespace

extern "C" __attribute__((visibility("default"))) const LadleSpmApi* ladle_sentencepiece_api(void) { return &api; }
