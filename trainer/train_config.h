// TrainConfig: everything a training run needs to know, as one plain struct with every default at its
// declaration, read from YAML (`ladle train --config train.yml --set key=value ...`) or filled in from C++.
//
// YAML layout (every key optional; keys as the fields below, sections as the nested structs; what each key means,
// its range and its default: docs/config.md or `ladle train --help-config`):
//   output_dir: out/run            seed: 0          max_steps: 200       epochs: 1
//   batch_size: 8                  gradient_accumulation_steps: 1        max_grad_norm: 1.0
//   bf16: false                    threads: 0       log_every_steps: 10  overwrite_output_dir: false
//   retain_freed_memory: true      device: cpu      (cpu, cuda, cuda:N or auto: lib/config/device_value.h)
//   model:      {path: base/} or {config: {hidden_size: 64, ...}} or {config_file: config.json}; init_seed
//   tokenizer:  {type: auto, path: tokenizer.model, train_input: corpus.txt, vocab_size: 2000}
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
// Every key is declared once, with its type, range and help, in train_config_schema() (lib/config/schema.h); the
// reading, the range checks, the JSON dump and the key reference (`ladle train --help-config`, docs/config.md)
// all come from that declaration, and the defaults are the ones written in the structs below.
// The file is treated as hostile: an unknown key, a value of the wrong type or out of range, a missing file
// are errors naming the file, the line and the key ("train.yml:7: optimizer.lr: expected a number > 0, got
// 'fast'"), or the --set argument that gave the value. Relative paths are resolved against the folder of the
// file that holds them; paths given with --set against the current directory (where the user typed them).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/config/config_error.h"
#include "lib/merge/online_merge.h"

namespace ladle::config {
template <class S>
class Schema;
class ConfigSource;
struct YamlValue;
}  // namespace ladle::config

namespace ladle::trainer {

enum class TokenizerKind {
  automatic,      // "auto": whatever the folder or file holds (text::open_tokenizer: tokenizer.json, vocab.json +
                  // merges.txt, tokenizer.model)
  sentencepiece,  // a sentencepiece model file (Llama's tokenizer.model)
  byte,           // ByteTokenizer: one token per byte plus the chat markers (no file; for tests and demos)
};

enum class DataFormat {
  instructions,  // instruction JSONL (Alpaca or messages), trained through the chat template, replies only
  text,          // a plain-text corpus (scripts/data layout), packed into blocks, every token trained
};

// Which chat format writes instruction data.
enum class ChatTemplateChoice {
  automatic,  // the model's own template when its tokenizer_config.json has one, else Tulu v2
  tulu,       // Tulu v2's format whatever the model brings
};

enum class OptimizerKind { adamw, sgd };

enum class ScheduleKind {
  constant,  // warmup, then the base rate
  linear,    // warmup, then linear decay to min_lr_ratio · lr at the last step
  cosine,    // warmup, then half a cosine down to min_lr_ratio · lr at the last step
};

struct ModelConfig {
  std::filesystem::path path;
  nlohmann::json config = nullptr;
  std::filesystem::path config_file;
  std::uint64_t init_seed = 0;
};

struct TokenizerConfig {
  TokenizerKind type = TokenizerKind::automatic;
  std::filesystem::path path;
  std::filesystem::path train_input;
  std::int64_t vocab_size = 2000;
  std::int64_t train_sentences = 200000;
};

struct DataConfig {
  DataFormat format = DataFormat::instructions;
  std::filesystem::path train;
  std::filesystem::path valid;
  std::size_t max_length = 512;
  std::size_t block_size = 256;
  bool train_on_all_tokens = false;
  ChatTemplateChoice chat_template = ChatTemplateChoice::automatic;
  std::vector<std::string> tasks;
  std::size_t max_train_examples = 0;
  bool skip_bad_lines = false;
};

struct LoraConfig {
  bool enabled = false;
  std::int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
  bool save_merged = true;
};

struct OptimizerConfig {
  OptimizerKind name = OptimizerKind::adamw;
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;
  double momentum = 0.9;
  bool nesterov = false;
  bool decay_embeddings = true;
};

struct ScheduleConfig {
  ScheduleKind name = ScheduleKind::constant;
  std::int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;
};

struct EvaluationConfig {
  std::int64_t every_steps = 0;
  bool at_end = true;
  std::size_t max_examples = 256;
  std::size_t batch_size = 16;
  std::size_t generation_examples = 64;
  std::int64_t max_new_tokens = 32;
  std::map<std::string, std::vector<std::string>> choices;
  std::size_t auto_choices = 8;
};

struct CheckpointConfig {
  std::int64_t every_steps = 0;
  std::size_t keep_last = 2;
  bool at_end = true;
};

struct FisherConfig {
  bool enabled = false;
  std::size_t examples = 64;
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
  // The config the entry was read from and the dotted key of its options there ("averaging.ema", "callbacks[0]",
  // "train.averaging.ema" in a dtm.yml), so that a factory reading the options with a config::Schema names the
  // line or the --set argument of each option and resolves each path where its value was given. Null for an entry
  // built in C++ (then messages start with `key` alone and paths resolve against base_dir).
  std::shared_ptr<const config::ConfigSource> source;
  std::string key;
};

struct DistributedConfig {
  std::string backend = "auto";
  double timeout_seconds = 300;
};

// The `averaging:` section, kept as the JSON it was written as: each sub-section turns on the registered callback
// type of its name with its mapping as options (callback_registry.h). The Trainer makes them; the factories of the
// built-in types (callbacks/averaging_config.h, a library above the trainer) read every key with its schema.
struct AveragingSection {
  nlohmann::json section = nullptr;  // the mapping as JSON (YAML scalars typed as JSON); null: no averaging
  // The config it was read from and its dotted key there (CallbackSpec::source says why); null when built in C++.
  std::shared_ptr<const config::ConfigSource> source;
  std::string key = "averaging";
  // Relative paths inside a section built in C++ resolve against this (one read from a config resolves each path
  // against the folder of the file that gave it, or the current directory for a --set value).
  std::filesystem::path base_dir;
};

// The `online_merging:` section: every optimizer update Δ is merged with the reference task vector
// τ_ref = θ_ref − θ_base by a sparse merge before it is applied (Lu et al. 2024; the formulation and its choices
// are in lib/merge/online_merge.h, the plug-in in trainer/online_merging_optimizer.h). Off unless reference_model
// is set. Not for LoRA runs (τ_ref is over the full weights). The merge's own options are the merge engine's
// (YAML keys `operator` and `sign_election` for op and election).
struct OnlineMergingConfig : merge::OnlineMergeOptions {
  std::filesystem::path reference_model;
  std::filesystem::path base_model;
  std::int64_t merge_every = 1;
  std::uint64_t seed = 0;

  bool enabled() const { return !reference_model.empty(); }
};

struct TrainConfig {
  std::filesystem::path output_dir = "out/train";
  std::uint64_t seed = 0;
  std::int64_t max_steps = 0;
  std::int64_t epochs = 1;
  std::size_t batch_size = 8;
  std::int64_t gradient_accumulation_steps = 1;
  double max_grad_norm = 1.0;
  bool bf16 = false;
  int threads = 0;
  // Where the model, its optimizer state, the batches and the averages live (lib/config/device_value.h);
  // cpu unless the config says otherwise, so a config runs where it ran before on any machine.
  std::string device = "cpu";
  std::int64_t log_every_steps = 10;
  bool overwrite_output_dir = false;
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

  // The training config in the mapping `value` of a larger config (a dtm.yml's `train:`), read and validated as
  // from_yaml does; messages name its keys under value.key ("dtm.yml:5: train.optimizer.lr: ...").
  static TrainConfig from_yaml_value(const config::YamlValue& value);

  // Throws config::ConfigError naming the first key whose value is outside its declared range (the schema's
  // check) or inconsistent with another.
  void validate() const;
  // Throws config::ConfigError unless the model, tokenizer and data the config names exist and fit together (needed
  // when the Trainer loads them from the config, not when a program passes its own model and data).
  void validate_sources() const;

  // Every field, with paths as resolved (written to OUTPUT_DIR/train_config.json for the record).
  nlohmann::json to_json() const;
};

// The declaration of every key (lib/config/schema.h): reading, range checks, to_json and the key reference.
const config::Schema<TrainConfig>& train_config_schema();

// "adamw" / "sgd", as the config names them.
const char* optimizer_kind_name(OptimizerKind kind);

}  // namespace ladle::trainer
