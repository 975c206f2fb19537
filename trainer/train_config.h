// TrainConfig: everything a training run needs to know, as one plain struct with every default at its
// declaration, read from YAML (`ladle train --config train.yml --set key=value ...`) or filled in from C++.
//
// YAML layout (every key optional; keys as the fields below, sections as the nested structs):
//   output_dir: out/run            seed: 0          max_steps: 200       epochs: 1
//   batch_size: 8                  gradient_accumulation_steps: 1        max_grad_norm: 1.0
//   bf16: false                    threads: 0       log_every_steps: 10  overwrite_output_dir: false
//   retain_freed_memory: true
//   model:      {path: base/} or {config: {hidden_size: 64, ...}} or {config_file: config.json}; init_seed
//   tokenizer:  {type: sentencepiece, path: tokenizer.model, train_input: corpus.txt, vocab_size: 2000}
//   data:       {format: instructions, train: train.jsonl, valid: valid.jsonl, max_length: 512, ...}
//   lora:       {enabled: false, r: 8, alpha: 16, dropout: 0, target_modules: [q_proj, v_proj]}
//   optimizer:  {name: adamw, lr: 0.001, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.01, ...}
//   schedule:   {name: cosine, warmup_steps: 10, min_lr_ratio: 0.1}
//   evaluation: {every_steps: 50, max_examples: 256, generation_examples: 64, choices: {spam: [yes, no]}}
//   checkpoint: {every_steps: 100, keep_last: 2, at_end: true}
//   fisher:     {enabled: false, examples: 64}
//   distributed: {backend: auto, timeout_seconds: 300}
//   averaging:  {ema: {decay: 0.999}, swa: {...}, lawa: {...}, soup: {...}, wise_ft: {...}}
//   callbacks:  [{type: ema, decay: 0.999}, ...]
//               (both turn on registered callback types, callback_registry.h; the options are kept as JSON here
//               and checked by the type's factory, for the built-ins in callbacks/averaging_config.h)
//   online_merging: {reference_model: ref/, base_model: base/, operator: ondare, density: 0.5,
//                    reference_weight: 0.0001, rescale: false, clip: 1, sign_election: sum, merge_every: 1,
//                    seed: 0}
// The file is treated as hostile: an unknown key, a value of the wrong type or out of range, a missing file
// are errors naming the file, the line and the key ("train.yml:7: optimizer.lr: expected a number, got
// 'fast'"), or the --set argument that gave the value. Relative paths are resolved against the folder of the
// file that holds them; paths given with --set against the current directory (where the user typed them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/util/error.h"

namespace ladle::trainer {

// An invalid configuration value; key() is its dotted key ("optimizer.lr").
class ConfigError : public Error {
 public:
  ConfigError(std::string key, const std::string& message) : Error(key + ": " + message), key_(std::move(key)) {}
  const std::string& key() const { return key_; }

 private:
  std::string key_;
};

enum class TokenizerKind {
  sentencepiece,  // a sentencepiece model file (Llama's tokenizer.model)
  byte,           // ByteTokenizer: one token per byte plus the chat markers (no file; for tests and demos)
};

enum class DataFormat {
  instructions,  // instruction JSONL (Alpaca or messages), trained through the chat template, replies only
  text,          // a plain-text corpus (scripts/data layout), packed into blocks, every token trained
};

enum class OptimizerKind { adamw, sgd };

enum class ScheduleKind {
  constant,  // warmup, then the base rate
  linear,    // warmup, then linear decay to min_lr_ratio · lr at the last step
  cosine,    // warmup, then half a cosine down to min_lr_ratio · lr at the last step
};

struct ModelConfig {
  // A Hugging Face model folder to fine-tune. Empty: a fresh model from `config` or `config_file`.
  std::filesystem::path path;
  // A fresh model's config.json fields, as an object (architectures/model_type default to Llama; vocab_size
  // defaults to the tokenizer's).
  nlohmann::json config = nullptr;
  std::filesystem::path config_file;  // or a config.json file for a fresh model
  std::uint64_t init_seed = 0;        // seeds a fresh model's initial weights
};

struct TokenizerConfig {
  TokenizerKind type = TokenizerKind::sentencepiece;
  // The sentencepiece model. Empty: <model.path>/tokenizer.model.
  std::filesystem::path path;
  // When set and `path` does not exist: train a sentencepiece model on this text file first and write it to
  // `path` (Llama's special-token layout, the chat markers as user symbols).
  std::filesystem::path train_input;
  std::int64_t vocab_size = 2000;         // pieces of a trained tokenizer
  std::int64_t train_sentences = 200000;  // lines sampled from train_input for training (0: all)
};

struct DataConfig {
  DataFormat format = DataFormat::instructions;
  std::filesystem::path train;         // instruction JSONL or plain-text corpus (required)
  std::filesystem::path valid;         // held-out data for evaluation and Fisher information (optional)
  std::size_t max_length = 512;        // instructions: most tokens per example (prompts are shortened first)
  std::size_t block_size = 256;        // text: tokens per training block
  bool train_on_all_tokens = false;    // instructions: prompts are targets too (default: replies and eos only)
  std::vector<std::string> tasks;      // instructions: keep only these tasks (empty: all)
  std::size_t max_train_examples = 0;  // a seeded random subset of the training examples (0: all)
  bool skip_bad_lines = false;         // instructions: skip malformed JSONL lines (counted, logged) instead of failing
};

struct LoraConfig {
  bool enabled = false;  // train LoRA adapters on a frozen base instead of every weight
  std::int64_t r = 8;    // rank
  double alpha = 16;     // scale alpha / r
  double dropout = 0.0;  // on the adapters' input, training only
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};  // PEFT-style module name suffixes
  bool save_merged = true;  // also write the merged model (final/) besides the adapter (final/adapter/)
};

// Weight decay applies to every trainable tensor with 2 or more dimensions (dense weights, LoRA matrices and,
// unless decay_embeddings is false, embeddings) and never to 1-D tensors (norm weights and biases), as
// nanoGPT's configure_optimizers does; Hugging Face's Trainer also decays embeddings.
struct OptimizerConfig {
  OptimizerKind name = OptimizerKind::adamw;
  double lr = 1e-3;              // base learning rate (torch.optim.AdamW's default)
  double beta1 = 0.9;            // AdamW
  double beta2 = 0.999;          // AdamW
  double eps = 1e-8;             // AdamW
  double weight_decay = 0.01;    // decoupled for AdamW (Loshchilov & Hutter), L2 added to the gradient for SGD
  double momentum = 0.9;         // SGD
  bool nesterov = false;         // SGD
  bool decay_embeddings = true;  // embeddings get weight decay
};

struct ScheduleConfig {
  ScheduleKind name = ScheduleKind::constant;
  std::int64_t warmup_steps = 0;  // linear warmup from 0 over this many steps
  double min_lr_ratio = 0.0;      // linear and cosine end at min_lr_ratio · lr
};

struct EvaluationConfig {
  std::int64_t every_steps = 0;    // evaluate every N optimizer steps (0: only at the end)
  bool at_end = true;              // evaluate after the last step
  std::size_t max_examples = 256;  // a seeded subset of the held-out set for loss (0: all)
  std::size_t batch_size = 16;     // examples per forward
  // Instructions only: examples whose reply is generated greedily and compared with the reference by exact
  // match (after stripping whitespace), a seeded subset of the loss examples (0: none).
  std::size_t generation_examples = 64;
  std::int64_t max_new_tokens = 32;  // tokens generated per reply at most
  // Instructions only: per task, the candidate replies scored by log-likelihood (reply + eos); the most likely
  // one is the model's choice (choice accuracy over the generation examples of that task).
  std::map<std::string, std::vector<std::string>> choices;
  // Tasks without listed choices whose held-out replies take at most this many distinct values get those
  // values as choices (0: only listed choices).
  std::size_t auto_choices = 8;
};

struct CheckpointConfig {
  std::int64_t every_steps = 0;  // write a checkpoint every N optimizer steps (0: never during training)
  std::size_t keep_last = 2;     // keep the newest N complete checkpoints (0: keep all)
  bool at_end = true;            // write one after the last step
};

struct FisherConfig {
  bool enabled = false;       // write OUTPUT_DIR/fisher.safetensors, the final model's diagonal Fisher
  std::size_t examples = 64;  // held-out examples it averages over
};

// One entry of the config's `callbacks:` list (or one sub-section of `averaging:`, as the Trainer reads it): a
// callback type that a callback library registered (callback_registry.h) and its options, e.g.
//   callbacks:
//     - {type: ema, decay: 0.999}
//     - {type: swa, start_step: 100}
// Callbacks are added in list order after the built-in observers (callback.h says how kinds are ordered).
struct CallbackSpec {
  std::string type;                                   // the registered type name
  nlohmann::json options = nlohmann::json::object();  // the entry's other keys (YAML scalars typed as JSON)
  // "train.yml:12: callbacks[0]" (or "--set callbacks=...: callbacks[0]", "train.yml:7: averaging.ema"): how
  // messages about it start.
  std::string where;
  // Relative paths among the options resolve against this: the config file's folder, or the current directory
  // when the entry was given with --set.
  std::filesystem::path base_dir;
};

struct DistributedConfig {
  std::string backend = "auto";  // gloo, nccl or auto (nccl for CUDA devices, else gloo)
  double timeout_seconds = 300;  // for collectives and the rendezvous
};

// The `averaging:` section, kept as the JSON it was written as: each sub-section turns on the registered callback
// type of its name with its mapping as options (callback_registry.h). The Trainer makes them; the factories of the
// built-in types (callbacks/averaging_config.h, a library above the trainer) check every key.
struct AveragingSection {
  nlohmann::json section = nullptr;  // the mapping as JSON (YAML scalars typed as JSON); null: no averaging
  // Relative paths inside it (lawa.directory, wise_ft.shifted) resolve against this: the config file's folder,
  // or the current directory when the whole section was given with --set (one folder for the whole section: only
  // the callbacks library knows which of its keys are paths, so a path set with --set averaging.lawa.directory=...
  // still resolves against the config file's folder; give it absolute to be sure).
  std::filesystem::path base_dir;
  std::string source = "averaging";  // "train.yml:70" or "--set averaging=...": how messages about it start
};

// The `online_merging:` section: every optimizer update Δ is merged with the reference task vector
// τ_ref = θ_ref − θ_base by a sparse merge before it is applied (Lu et al. 2024; the formulation and its choices
// are in lib/merge/online_merge.h, the plug-in in trainer/online_merging_optimizer.h). Off unless reference_model
// is set. Not for LoRA runs (τ_ref is over the full weights).
struct OnlineMergingConfig {
  std::filesystem::path reference_model;  // Hugging Face folder of the reference fine-tune θ_ref (empty: off)
  std::filesystem::path base_model;       // Hugging Face folder of θ_base (empty: the run's initial weights)
  std::string op = "ondare";              // YAML key `operator`: ondare (drop and rescale) or onties (trim, elect)
  double density = 1.0;                   // fraction of entries kept of τ_ref (once) and of each update, in (0, 1]
  double reference_weight = 0.0;          // α ∈ [0, 1]: α·τ̂ added at each merge, the update weighted 1 − α
  bool rescale = false;                   // sparsified operands scaled to their L1 norm (instead of 1/density)
  double clip = 1.0;                      // OnDARE: τ̂ clamped to ±clip (0: no clamping)
  std::string sign_election = "sum";      // OnTIES: sum (sign of τ̂ + D̂, the authors') or weighted
  std::int64_t merge_every = 1;           // merge the summed update every k steps (the authors' online_step)
  std::uint64_t seed = 0;                 // the masks of OnDARE, drawn per step and tensor from it

  bool enabled() const { return !reference_model.empty(); }
};

struct TrainConfig {
  std::filesystem::path output_dir = "out/train";  // checkpoints, metrics.jsonl, final/
  std::uint64_t seed = 0;                          // data order, dropout, LoRA init, evaluation subsets
  std::int64_t max_steps = 0;                      // optimizer steps to train; 0: `epochs` passes over the data
  std::int64_t epochs = 1;                         // passes over the training data when max_steps is 0
  std::size_t batch_size = 8;                      // examples per micro-batch on each process
  std::int64_t gradient_accumulation_steps = 1;    // micro-batches per optimizer step on each process
  double max_grad_norm = 1.0;                      // clip the global gradient norm to this (0: no clipping)
  bool bf16 = false;                  // bf16 autocast for forward passes; weights and optimizer state stay fp32
  int threads = 0;                    // intra-op threads (0: OMP_NUM_THREADS, else every core)
  std::int64_t log_every_steps = 10;  // training metrics to the log and metrics.jsonl every N steps
  bool overwrite_output_dir = false;  // start afresh in an output_dir that holds another run's results
  // Keep memory a step frees for the next step instead of returning it to the system (malloc_tuning.h; changes
  // glibc's malloc settings for the whole process).
  bool retain_freed_memory = true;

  ModelConfig model;
  TokenizerConfig tokenizer;
  DataConfig data;
  LoraConfig lora;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  EvaluationConfig evaluation;
  CheckpointConfig checkpoint;
  FisherConfig fisher;
  DistributedConfig distributed;
  std::vector<CallbackSpec> callbacks;  // further callbacks, made by their registered factories after averaging's
  AveragingSection averaging;           // EMA, SWA, LAWA, soup and WiSE-FT callbacks (see AveragingSection)
  OnlineMergingConfig online_merging;   // merge each update with a reference task vector (off by default)

  // Reads a YAML file, applies `overrides` ("key=value" with a dotted key, the value in YAML syntax:
  // "optimizer.lr=3e-4", "lora.target_modules=[q_proj, v_proj]"), then validate() and validate_sources(). Throws
  // ladle::Error as the header describes.
  static TrainConfig from_yaml_file(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
  // The same from text; `label` names it in messages and relative paths resolve against `base_dir`.
  static TrainConfig from_yaml(const std::string& text, const std::string& label, const std::filesystem::path& base_dir,
                               const std::vector<std::string>& overrides = {});

  // Throws ConfigError naming the first key whose value is out of range or inconsistent with another.
  void validate() const;
  // Throws ConfigError unless the model, tokenizer and data the config names exist and fit together (needed
  // when the Trainer loads them from the config, not when a program passes its own model and data).
  void validate_sources() const;

  // Every field, with paths as resolved (written to OUTPUT_DIR/train_config.json for the record).
  nlohmann::json to_json() const;
};

const char* tokenizer_kind_name(TokenizerKind kind);
const char* data_format_name(DataFormat format);
const char* optimizer_kind_name(OptimizerKind kind);
const char* schedule_kind_name(ScheduleKind kind);

}  // namespace ladle::trainer
