// A PEFT LoRA adapter extracted from the difference of two models (`ladle extract-lora`), the inverse of
// `ladle merge lora`: per module, the fine-tune's update ΔW = W_finetuned − W_base is re-factorised by truncated
// SVD (lib/merge/lora_factorization.h), following mergekit-extract-lora (mergekit/scripts/extract_lora.py).
//
// Modules, from the fine-tune's tensor names (a module is a "<name>.weight" tensor and its "<name>.bias"):
//   - a 2-D weight is decomposed: lora_A.weight [k, in], lora_B.weight [out, k], with its bias update as
//     lora_B.bias (PEFT's lora_bias), as mergekit writes it;
//   - the input embedding (embed_tokens, wte, ...) is decomposed only with embed_lora, transposed as PEFT's
//     Embedding layer expects: lora_embedding_A [k, vocab], lora_embedding_B [hidden, k]; otherwise it is saved
//     whole (modules_to_save), as is the output embedding (lm_head, decomposed as a linear layer with
//     embed_lora) [mergekit: the same, --embed-lora];
//   - anything else (norms, 1-D tensors) cannot be decomposed: saved whole as modules_to_save, or skipped with
//     skip_undecomposable.
// Tied embeddings: a model without lm_head uses its input embedding there (Llama 3.2 1B, Qwen3 0.6B).
// Vocabulary rows the fine-tune added are truncated (with a warning) unless extend_vocab, which saves the
// embedding matrices whole with the fine-tune's rows instead [mergekit: the same when the vocabularies differ].
//
// Every module's rank k is min(its rank, out, in), its rank being that of the first rank pattern whose regex
// finds the module name, else options.rank. adapter_config.json has r = lora_alpha = the largest k and
// rank_pattern = alpha_pattern = {module: k} for every other module, so every scale α/r is 1.
//
// Streaming: the inputs are memory-mapped and one module's tensors are in memory at a time; the adapter's
// header is fixed before the first SVD, so each module's factors go to disk as soon as they are computed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ladle::merge {

// A rank for the modules whose name a regular expression (Python's syntax, searched as re.search) finds.
struct LoraRankPattern {
  std::string regex;      // e.g. "mlp\\.down_proj"
  std::int64_t rank = 0;  // that module's largest rank, at least 1
};

struct LoraExtractionOptions {
  std::int64_t rank = 32;                      // every module's largest rank [mergekit --max-rank: 128]
  std::vector<LoraRankPattern> rank_patterns;  // per-module ranks; the first pattern that finds a module wins
  std::vector<std::string> include_regexes;    // when given, only modules one of them finds are in the adapter
  std::vector<std::string> exclude_regexes;    // modules one of them finds are left out of the adapter
  bool embed_lora = false;           // decompose the input embedding instead of saving it whole [mergekit: same]
  bool skip_undecomposable = false;  // leave norms and other non-matrix modules out instead of saving them whole
  bool extend_vocab = false;         // keep the fine-tune's added vocabulary rows (embeddings saved whole)
  bool overwrite = false;            // replace an existing folder at the destination
};

// How one module is carried by the adapter.
enum class ExtractedModuleKind {
  lora,       // lora_A / lora_B
  embedding,  // lora_embedding_A / lora_embedding_B
  saved,      // modules_to_save: the fine-tune's tensors, whole
  skipped,    // undecomposable and skip_undecomposable
};

// One module's row of the extraction table.
struct ExtractedModule {
  std::string name;  // the Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj"
  ExtractedModuleKind kind = ExtractedModuleKind::lora;
  std::vector<std::int64_t> shape;  // the weight's shape as decomposed (embedding: transposed)
  std::int64_t rank = 0;            // lora and embedding: k
  double kept_energy = 0;           // Σ kept σᵢ² (saved modules: all of it)
  double total_energy = 0;          // Σ σᵢ² = ‖ΔW‖²_F
  double relative_error = 0;  // ‖ΔW − B·A‖_F / ‖ΔW‖_F with the factors as stored (0 for a zero update)

  double energy_fraction() const { return total_energy > 0 ? kept_energy / total_energy : 1.0; }
};

struct LoraExtractionResult {
  std::int64_t rank = 0;                 // r = lora_alpha in adapter_config.json: the largest k
  std::vector<ExtractedModule> modules;  // in the fine-tune's tensor order

  // For people: one line per module (kind, rank, retained energy, relative error) and the totals.
  std::string table() const;
  // The same as JSON (written to OUT_DIR/extraction_report.json).
  std::string json() const;
};

// The name of the report extract_lora writes next to the adapter.
inline constexpr const char* kLoraExtractionReportFile = "extraction_report.json";

// Extracts the adapter of `finetuned` relative to `base` (Hugging Face folders or .safetensors files) into
// `directory`: adapter_config.json, adapter_model.safetensors and kLoraExtractionReportFile, the folder appearing
// only when complete. Every module is checked before the first SVD: ladle::Error names the tensor and both shapes
// for a shape mismatch, the tensor for one present in only one model, and both architectures when config.json
// disagrees; also for a rank below 1 and an invalid regular expression.
LoraExtractionResult extract_lora(const std::filesystem::path& base, const std::filesystem::path& finetuned,
                                  const std::filesystem::path& directory, const LoraExtractionOptions& options = {});

}  // namespace ladle::merge
