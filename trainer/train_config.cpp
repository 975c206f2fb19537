#include "trainer/train_config.h"

#include "lib/config/config_source.h"
#include "lib/config/device_value.h"
#include "lib/config/schema.h"
#include "lib/model/device.h"
#include "trainer/training_data.h"
#include "lib/config/yaml_value.h"

namespace ladle::trainer {
namespace {

using config::above;
using config::at_least;
using config::Choices;
using config::ConfigError;
using config::CustomValue;
using config::in_closed;
using config::in_closed_open;
using config::in_open_closed;
using config::Schema;
using config::YamlValue;

const Choices<OptimizerKind>& optimizer_kinds() {
  static const Choices<OptimizerKind> kinds = {{"adamw", OptimizerKind::adamw}, {"sgd", OptimizerKind::sgd}};
  return kinds;
}

const Schema<ModelConfig>& model_schema() {
  static const auto schema =
      Schema<ModelConfig>("The model to train: a Hugging Face folder to fine-tune, or a fresh one from a config.")
          .field("path", &ModelConfig::path,
                 "a Hugging Face model folder to fine-tune (empty: a fresh model from config or config_file)")
          .field("config", &ModelConfig::config,
                 "a fresh model's config.json fields (architectures/model_type default to Llama, vocab_size to the "
                 "tokenizer's)")
          .field("config_file", &ModelConfig::config_file, "or a config.json file for a fresh model")
          .field("init_seed", &ModelConfig::init_seed, "seeds a fresh model's initial weights");
  return schema;
}

const Schema<TokenizerConfig>& tokenizer_schema() {
  static const auto schema =
      Schema<TokenizerConfig>("The tokenizer.")
          .choice(
              "type", &TokenizerConfig::type,
              Choices<TokenizerKind>{{"auto", TokenizerKind::automatic},
                                     {"sentencepiece", TokenizerKind::sentencepiece},
                                     {"byte", TokenizerKind::byte}},
              "auto: the tokenizer a folder or file holds (tokenizer.json, else vocab.json + merges.txt, else "
              "tokenizer.model); sentencepiece: a model file (Llama's tokenizer.model); byte: one token per byte "
              "plus the chat markers (no file; for tests and demos)")
          .field("path", &TokenizerConfig::path,
                 "the tokenizer folder or file (empty: model.path; for sentencepiece <model.path>/tokenizer.model)")
          .field("train_input", &TokenizerConfig::train_input,
                 "when set and there is no tokenizer at path: train a sentencepiece model on this text file first and "
                 "write it there (Llama's special-token layout, the chat markers as user symbols)")
          .field("vocab_size", &TokenizerConfig::vocab_size, at_least(16), "pieces of a trained tokenizer")
          .field("train_sentences", &TokenizerConfig::train_sentences, at_least(0),
                 "lines sampled from train_input for training (0: all)");
  return schema;
}

const Schema<DataConfig>& data_schema() {
  static const auto schema =
      Schema<DataConfig>("The training and held-out data.")
          .choice("format", &DataConfig::format,
                  Choices<DataFormat>{{"instructions", DataFormat::instructions}, {"text", DataFormat::text}},
                  "instructions: JSONL (Alpaca or messages) trained through the chat template, replies only; text: a "
                  "plain-text corpus packed into blocks, every token trained")
          .field("train", &DataConfig::train, "instruction JSONL or plain-text corpus (required)")
          .field("valid", &DataConfig::valid, "held-out data for evaluation and Fisher information (optional)")
          .field("max_length", &DataConfig::max_length,
                 "instructions: most tokens per example, prompts shortened first (0: no limit, else at least 4)")
          .field("block_size", &DataConfig::block_size, at_least(1), "text: tokens per training block")
          .field("train_on_all_tokens", &DataConfig::train_on_all_tokens,
                 "instructions: prompts are targets too (default: replies and eos only)")
          .choice("chat_template", &DataConfig::chat_template,
                  Choices<ChatTemplateChoice>{{"auto", ChatTemplateChoice::automatic}, {"tulu", ChatTemplateChoice::tulu}},
                  "instructions: auto: the model's own chat template when its tokenizer_config.json has one "
                  "(replies and their end-of-turn token trained), else Tulu v2; tulu: always Tulu v2")
          .field("tasks", &DataConfig::tasks, "instructions: keep only these tasks (empty: all)")
          .field("max_train_examples", &DataConfig::max_train_examples,
                 "a seeded random subset of the training examples (0: all)")
          .field("skip_bad_lines", &DataConfig::skip_bad_lines,
                 "instructions: skip malformed JSONL lines (counted, logged) instead of failing");
  return schema;
}

const Schema<LoraConfig>& lora_schema() {
  static const auto schema =
      Schema<LoraConfig>("LoRA adapters (Hu et al. 2021) on a frozen base.")
          .field("enabled", &LoraConfig::enabled, "train LoRA adapters on a frozen base instead of every weight")
          .field("r", &LoraConfig::r, at_least(1), "rank")
          .field("alpha", &LoraConfig::alpha, above(0), "the adapters are scaled by alpha / r")
          .field("dropout", &LoraConfig::dropout, in_closed_open(0, 1), "on the adapters' input, training only")
          .field("target_modules", &LoraConfig::target_modules, "PEFT-style module name suffixes")
          .field("save_merged", &LoraConfig::save_merged,
                 "also write the merged model (final/) besides the adapter (final/adapter/)");
  return schema;
}

const Schema<OptimizerConfig>& optimizer_schema() {
  static const auto schema =
      Schema<OptimizerConfig>(
          "The optimizer. Weight decay applies to every trainable tensor with 2 or more dimensions and never to 1-D "
          "ones (norm weights, biases), as nanoGPT's configure_optimizers does.")
          .choice("name", &OptimizerConfig::name, optimizer_kinds(), "adamw or sgd")
          .field("lr", &OptimizerConfig::lr, above(0), "base learning rate (torch.optim.AdamW's default)")
          .field("betas", &OptimizerConfig::betas, in_closed_open(0, 1), "AdamW's beta1 and beta2")
          .field("eps", &OptimizerConfig::eps, above(0), "AdamW's epsilon")
          .field("weight_decay", &OptimizerConfig::weight_decay, at_least(0),
                 "decoupled for AdamW (Loshchilov & Hutter), L2 added to the gradient for SGD")
          .field("momentum", &OptimizerConfig::momentum, in_closed_open(0, 1), "SGD's momentum")
          .field("nesterov", &OptimizerConfig::nesterov, "SGD: Nesterov momentum (needs a positive momentum)")
          .field("decay_embeddings", &OptimizerConfig::decay_embeddings,
                 "embeddings get weight decay (as Hugging Face's Trainer does)");
  return schema;
}

const Schema<ScheduleConfig>& schedule_schema() {
  static const auto schema =
      Schema<ScheduleConfig>("The learning-rate schedule.")
          .choice("name", &ScheduleConfig::name,
                  Choices<ScheduleKind>{{"constant", ScheduleKind::constant},
                                        {"linear", ScheduleKind::linear},
                                        {"cosine", ScheduleKind::cosine}},
                  "after the warmup: the base rate (constant), or a linear or half-cosine decay to min_lr_ratio * lr "
                  "at the last step")
          .field("warmup_steps", &ScheduleConfig::warmup_steps, at_least(0),
                 "linear warmup from 0 over this many steps")
          .field("min_lr_ratio", &ScheduleConfig::min_lr_ratio, in_closed(0, 1),
                 "linear and cosine end at min_lr_ratio * lr");
  return schema;
}

const Schema<EvaluationConfig>& evaluation_schema() {
  static const auto schema =
      Schema<EvaluationConfig>("Evaluation on the held-out data (data.valid).")
          .field("every_steps", &EvaluationConfig::every_steps, at_least(0),
                 "evaluate every N optimizer steps (0: only at the end)")
          .field("at_end", &EvaluationConfig::at_end, "evaluate after the last step")
          .field("max_examples", &EvaluationConfig::max_examples,
                 "a seeded subset of the held-out set for the loss (0: all)")
          .field("batch_size", &EvaluationConfig::batch_size, at_least(1), "examples per forward")
          .field("generation_examples", &EvaluationConfig::generation_examples,
                 "instructions: examples whose reply is generated greedily and compared with the reference by exact "
                 "match (a seeded subset of the loss examples; 0: none)")
          .field("max_new_tokens", &EvaluationConfig::max_new_tokens, at_least(1), "tokens generated per reply at most")
          .field("choices", &EvaluationConfig::choices,
                 "instructions: per task, at least two candidate replies scored by log-likelihood; the most likely "
                 "one is the model's choice")
          .field("auto_choices", &EvaluationConfig::auto_choices,
                 "tasks without listed choices whose held-out replies take at most this many distinct values get "
                 "those values as choices (0: only listed choices)");
  return schema;
}

const Schema<CheckpointConfig>& checkpoint_schema() {
  static const auto schema =
      Schema<CheckpointConfig>("Checkpoints in OUTPUT_DIR/checkpoints/, to resume from.")
          .field("every_steps", &CheckpointConfig::every_steps, at_least(0),
                 "write a checkpoint every N optimizer steps (0: never during training)")
          .field("keep_last", &CheckpointConfig::keep_last, "keep the newest N complete checkpoints (0: keep all)")
          .field("at_end", &CheckpointConfig::at_end, "write one after the last step");
  return schema;
}

const Schema<FisherConfig>& fisher_schema() {
  static const auto schema =
      Schema<FisherConfig>("The final model's diagonal Fisher information, for Fisher-weighted merging.")
          .field("enabled", &FisherConfig::enabled, "write OUTPUT_DIR/fisher.safetensors (needs data.valid)")
          .field("examples", &FisherConfig::examples, at_least(1), "held-out examples it averages over");
  return schema;
}

const Schema<DistributedConfig>& distributed_schema() {
  static const auto schema = Schema<DistributedConfig>("Data-parallel training under torchrun's environment variables.")
                                 .choice("backend", &DistributedConfig::backend,
                                         Choices<std::string>{{"auto", "auto"}, {"gloo", "gloo"}, {"nccl", "nccl"}},
                                         "auto: nccl for CUDA devices, else gloo")
                                 .field("timeout_seconds", &DistributedConfig::timeout_seconds, above(0),
                                        "for collectives and the rendezvous");
  return schema;
}

const Schema<OnlineMergingConfig>& online_merging_schema() {
  using merge::OnlineMergeOperator;
  using merge::OnlineSignElection;
  static const auto schema =
      Schema<OnlineMergingConfig>(
          "Online merging (Lu et al. 2024): every optimizer update is merged with the reference task vector "
          "reference_model - base_model before it is applied (lib/merge/online_merge.h). Off unless "
          "reference_model is set; not for LoRA runs.")
          .field("reference_model", &OnlineMergingConfig::reference_model,
                 "Hugging Face folder of the reference fine-tune (empty: off)")
          .field("base_model", &OnlineMergingConfig::base_model,
                 "Hugging Face folder of the base model (empty: the run's initial weights)")
          .choice("operator", &OnlineMergingConfig::op,
                  Choices<OnlineMergeOperator>{
                      {merge::online_merge_operator_name(OnlineMergeOperator::ondare), OnlineMergeOperator::ondare},
                      {merge::online_merge_operator_name(OnlineMergeOperator::onties), OnlineMergeOperator::onties}},
                  "ondare: random drop and rescale; onties: magnitude trim and sign election")
          .field("density", &OnlineMergingConfig::density, in_open_closed(0, 1),
                 "fraction of entries kept of the reference (once) and of each update")
          .field("reference_weight", &OnlineMergingConfig::reference_weight, in_closed(0, 1),
                 "alpha: weight of the sparse reference added at each merge; the update is weighted 1 - alpha")
          .field("rescale", &OnlineMergingConfig::rescale,
                 "sparsified operands scaled to their L1 norm (instead of 1/density)")
          .field("clip", &OnlineMergingConfig::clip, at_least(0),
                 "OnDARE: the reference clamped to +-clip (0: no clamping)")
          .choice("sign_election", &OnlineMergingConfig::election,
                  Choices<OnlineSignElection>{
                      {merge::online_sign_election_name(OnlineSignElection::sum), OnlineSignElection::sum},
                      {merge::online_sign_election_name(OnlineSignElection::weighted), OnlineSignElection::weighted}},
                  "OnTIES: sum (the sign of reference + update, the authors') or weighted (of their weighted sum)")
          .field("merge_every", &OnlineMergingConfig::merge_every, at_least(1),
                 "merge the summed update every k steps (the authors' online_step)")
          .field("seed", &OnlineMergingConfig::seed, "the masks of OnDARE, drawn per step and tensor from it");
  return schema;
}

// The `callbacks:` list: each entry's type and its other keys as JSON (the registered factory checks them).
CustomValue<std::vector<CallbackSpec>> callback_list() {
  return {"a list of {type: NAME, option: value, ...}",
          [](const YamlValue& value) {
            std::vector<CallbackSpec> callbacks;
            if (value.node.IsNull()) return callbacks;
            if (!value.node.IsSequence()) value.expected("a list of {type: ..., options...} entries");
            const auto source = std::make_shared<const config::ConfigSource>(value.source);
            for (std::size_t i = 0; i < value.node.size(); ++i) {
              const YamlValue entry = value.item(i);
              if (!entry.node.IsMap()) entry.expected("a mapping with a type");
              CallbackSpec spec;
              spec.where = entry.where() + ": " + entry.key;
              spec.base_dir = entry.source.base_dir_for(entry.key);
              spec.source = source;
              spec.key = entry.key;
              for (const auto& item : entry.node) {
                const std::string name = item.first.as<std::string>();
                if (name == "type") {
                  spec.type = config::ValueType<std::string>::read(entry.member(item), {});
                } else {
                  spec.options[name] = config::yaml_to_json(item.second);
                }
              }
              if (spec.type.empty()) entry.fail("needs a type (the callback's registered name, e.g. ema)");
              callbacks.push_back(std::move(spec));
            }
            return callbacks;
          },
          [](const std::vector<CallbackSpec>& callbacks) {
            nlohmann::json list = nlohmann::json::array();
            for (const auto& spec : callbacks) {
              nlohmann::json entry = spec.options;
              entry["type"] = spec.type;
              list.push_back(entry);
            }
            return list;
          }};
}

// The `averaging:` mapping, kept as JSON with the config it came from (AveragingSection says why).
CustomValue<AveragingSection> averaging_section() {
  return {"a mapping of averaging callbacks (ema, swa, lawa, posthoc, soup, wise_ft)",
          [](const YamlValue& value) {
            AveragingSection averaging;
            if (value.node.IsNull()) return averaging;
            if (!value.node.IsMap()) value.expected("a mapping of averaging callbacks (ema, swa, ...)");
            averaging.section = config::yaml_to_json(value.node);
            averaging.source = std::make_shared<const config::ConfigSource>(value.source);
            averaging.key = value.key;
            averaging.base_dir = value.source.base_dir_for(value.key);
            return averaging;
          },
          [](const AveragingSection& averaging) { return averaging.section; }};
}

void require(bool condition, const std::string& key, const std::string& message) {
  if (!condition) throw ConfigError(key, message);
}

void require_file(const std::filesystem::path& path, const std::string& key, const std::string& what) {
  std::error_code error;
  require(!std::filesystem::is_directory(path, error), key,
          what + " '" + path.string() + "' is a folder; expected a file");
  require(std::filesystem::is_regular_file(path, error), key, what + " '" + path.string() + "' does not exist");
}

}  // namespace

const config::Schema<TrainConfig>& train_config_schema() {
  static const auto schema =
      Schema<TrainConfig>("The run as a whole.")
          .field("output_dir", &TrainConfig::output_dir, "checkpoints, metrics.jsonl, final/")
          .field("seed", &TrainConfig::seed, "data order, dropout, LoRA init, evaluation subsets")
          .field("max_steps", &TrainConfig::max_steps, at_least(0),
                 "optimizer steps to train (0: epochs passes over the data)")
          .field("epochs", &TrainConfig::epochs, at_least(0), "passes over the training data when max_steps is 0")
          .field("batch_size", &TrainConfig::batch_size, at_least(1), "examples per micro-batch on each process")
          .field("gradient_accumulation_steps", &TrainConfig::gradient_accumulation_steps, at_least(1),
                 "micro-batches per optimizer step on each process")
          .field("max_grad_norm", &TrainConfig::max_grad_norm, at_least(0),
                 "clip the global gradient norm to this (0: no clipping)")
          .field("bf16", &TrainConfig::bf16, "bf16 autocast for forward passes; weights and optimizer state stay fp32")
          .field("threads", &TrainConfig::threads, in_closed(0, 4096),
                 "intra-op threads (0: OMP_NUM_THREADS, else every core)")
          .custom("device", &TrainConfig::device, config::device_value(), config::kDeviceHelp)
          .field("log_every_steps", &TrainConfig::log_every_steps, at_least(1),
                 "training metrics to the log and metrics.jsonl every N steps")
          .field("overwrite_output_dir", &TrainConfig::overwrite_output_dir,
                 "start afresh in an output_dir that holds another run's results")
          .field("retain_freed_memory", &TrainConfig::retain_freed_memory,
                 "keep memory a step frees for the next step instead of returning it to the system (changes "
                 "glibc's malloc settings for the whole process)")
          .section("model", &TrainConfig::model, model_schema())
          .section("tokenizer", &TrainConfig::tokenizer, tokenizer_schema())
          .section("data", &TrainConfig::data, data_schema())
          .section("lora", &TrainConfig::lora, lora_schema())
          .section("optimizer", &TrainConfig::optimizer, optimizer_schema())
          .section("schedule", &TrainConfig::schedule, schedule_schema())
          .section("evaluation", &TrainConfig::evaluation, evaluation_schema())
          .section("checkpoint", &TrainConfig::checkpoint, checkpoint_schema())
          .section("fisher", &TrainConfig::fisher, fisher_schema())
          .section("distributed", &TrainConfig::distributed, distributed_schema())
          .custom("callbacks", &TrainConfig::callbacks, callback_list(),
                  "callbacks to add, each a type registered by a callback library and its options, in list order")
          .custom("averaging", &TrainConfig::averaging, averaging_section(),
                  "EMA, SWA, LAWA, soup and WiSE-FT callbacks, one sub-section per type that turns it on; their keys "
                  "are read by the callbacks library (callbacks/averaging_config.h)")
          .section("online_merging", &TrainConfig::online_merging, online_merging_schema());
  return schema;
}

const char* optimizer_kind_name(OptimizerKind kind) { return config::choice_name(optimizer_kinds(), kind).c_str(); }

TrainConfig TrainConfig::from_yaml_file(const std::filesystem::path& path, const std::vector<std::string>& overrides) {
  const auto source = config::ConfigSource::from_file(path, overrides);
  return from_yaml_value({source.root(), "", source});
}

TrainConfig TrainConfig::from_yaml(const std::string& text, const std::string& label,
                                   const std::filesystem::path& base_dir, const std::vector<std::string>& overrides) {
  const config::ConfigSource source(text, label, base_dir, overrides);
  return from_yaml_value({source.root(), "", source});
}

TrainConfig TrainConfig::from_yaml_value(const config::YamlValue& value) {
  TrainConfig config;
  train_config_schema().read(value, config);
  try {
    config.validate();
    config.validate_sources();
  } catch (const ConfigError& error) {
    throw value.source.located(error, value.key);
  }
  return config;
}

// Single-key ranges and choices are the schema's; what remains relates keys to each other.
void TrainConfig::validate() const {
  train_config_schema().check(*this);
  require(!output_dir.empty(), "output_dir", "must be set");
  require(max_steps > 0 || epochs > 0, "epochs", "must be positive when max_steps is 0 (one of them sets the budget)");
  require(!lora.enabled || !lora.target_modules.empty(), "lora.target_modules", "must name at least one module");
  require(!optimizer.nesterov || optimizer.momentum > 0, "optimizer.nesterov", "needs a positive momentum");
  for (const auto& [task, replies] : evaluation.choices) {
    require(replies.size() >= 2, "evaluation.choices." + task, "needs at least two candidate replies");
  }
  if (online_merging.enabled()) {
    require(!lora.enabled, "online_merging.reference_model",
            "online merging merges full-weight updates; it cannot be combined with lora.enabled");
  } else {
    require(online_merging.base_model.empty(), "online_merging.base_model",
            "is set but online_merging.reference_model is not (online merging is off without a reference)");
  }
}

void TrainConfig::validate_sources() const {
  const bool fresh = model.path.empty();
  require(!fresh || !model.config.is_null() || !model.config_file.empty(), "model.path",
          "must be set (a Hugging Face folder), or model.config / model.config_file for a fresh model");
  require(fresh || (model.config.is_null() && model.config_file.empty()), "model.config",
          "a fresh model's config and model.path (a model to fine-tune) exclude each other");
  require(model.config.is_null() || model.config_file.empty(), "model.config_file",
          "give the fresh model's config inline (model.config) or as a file, not both");
  if (!fresh) {
    std::error_code error;
    require(std::filesystem::is_directory(model.path, error) || std::filesystem::is_regular_file(model.path, error),
            "model.path", "'" + model.path.string() + "' does not exist");
  }
  if (!model.config_file.empty()) require_file(model.config_file, "model.config_file", "config file");

  if (tokenizer.type != TokenizerKind::byte) {
    require(!tokenizer.path.empty() || !fresh, "tokenizer.path",
            "must be set for a fresh model (a model folder's tokenizer is used otherwise)");
    const auto location = tokenizer_location(*this);
    std::error_code error;
    if (!std::filesystem::exists(location.file, error)) {
      require(!tokenizer.train_input.empty(), "tokenizer.path",
              "'" + (tokenizer.path.empty() ? model.path : tokenizer.path).string() +
                  "' holds no tokenizer (set tokenizer.train_input to train one)");
      require_file(tokenizer.train_input, "tokenizer.train_input", "text file");
    }
  }

  require(!data.train.empty(), "data.train", "must be set (instruction JSONL or a plain-text corpus)");
  require_file(data.train, "data.train", "training data");
  if (!data.valid.empty()) require_file(data.valid, "data.valid", "held-out data");
  require(data.max_length == 0 || data.max_length >= 4, "data.max_length", "must be 0 (no limit) or at least 4");
  require(data.format == DataFormat::instructions || data.tasks.empty(), "data.tasks",
          "selects instruction tasks; plain text has none");

  require(!fisher.enabled || !data.valid.empty(), "fisher.enabled", "needs held-out data (data.valid)");
  const std::string device_problem = model::device_problem(device);
  require(device_problem.empty(), "device", device_problem);

  for (const auto& [key, folder] : {std::pair<const char*, const std::filesystem::path&>{
                                        "online_merging.reference_model", online_merging.reference_model},
                                    {"online_merging.base_model", online_merging.base_model}}) {
    std::error_code error;
    require(folder.empty() || std::filesystem::is_directory(folder, error), key,
            "'" + folder.string() + "' is not a folder (a Hugging Face model folder)");
  }
}

nlohmann::json TrainConfig::to_json() const { return train_config_schema().to_json(*this); }

}  // namespace ladle::trainer
