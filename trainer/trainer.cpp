#include "trainer/trainer.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <regex>

#include "lib/io/atomic_file.h"
#include "lib/io/output_lock.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/checksum_manifest.h"
#include "lib/io/safetensors_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/strict_json.h"
#include "lib/io/text_file.h"
#include "lib/log/log.h"
#include "lib/model/causal_lm_loss.h"
#include "lib/model/device.h"
#include "lib/model/lora.h"
#include "lib/text/data_loader.h"
#include "lib/util/error.h"
#include "lib/util/malloc_tuning.h"
#include "lib/util/threads.h"
#include "lib/weights/flat_parameters.h"
#include "trainer/bf16_autocast.h"
#include "trainer/builtin_callbacks.h"
#include "trainer/callback_registry.h"
#include "trainer/checkpoint.h"
#include "trainer/distributed.h"
#include "trainer/evaluator.h"
#include "trainer/fisher.h"
#include "trainer/lr_schedule.h"
#include "lib/model/causal_lm_folder.h"
#include "trainer/online_merging_optimizer.h"
#include "trainer/optimizer.h"

namespace ladle::trainer {
namespace {

// output_dir must be a folder, or a path where one can be made: checked before the data and the model are
// loaded, so that a file in the way (or a folder ladle may not write in) is named at once, not met after the
// loading as a filesystem error.
void require_output_folder(const std::filesystem::path& output_dir) {
  const std::filesystem::path dir = std::filesystem::absolute(output_dir);
  std::error_code error;
  for (auto path = dir;; path = path.parent_path()) {
    if (std::filesystem::exists(path, error)) {
      if (!std::filesystem::is_directory(path, error)) {
        throw Error("output_dir: '" + path.string() + "' is a file, not a folder" +
                    (path == dir ? "" : " (output_dir " + dir.string() + " would be inside it)") +
                    ": choose another output_dir");
      }
      if (::access(path.c_str(), W_OK | X_OK) != 0) {
        throw Error("output_dir: cannot write in '" + path.string() + "' (" + std::strerror(errno) +
                    "): choose another output_dir");
      }
      return;
    }
    if (path == path.parent_path()) return;
  }
}

constexpr int kCheckpointVersion = 1;
constexpr const char* kPeftPrefix = "base_model.model.";

// Target tokens of an example: labels after the first position that are not ignored (the causal shift).
std::int64_t target_count(const text::TokenizedExample& example) {
  return std::count_if(example.labels.begin() + (example.labels.empty() ? 0 : 1), example.labels.end(),
                       [](std::int64_t label) { return label != text::kIgnoreLabel; });
}

// Σ over a right-padded batch's targets of −log softmax(logits[t])[labels[t + 1]]: causal_lm_loss's terms summed,
// in one cross-entropy call (the loader pads on the right, so padding is exactly the ignored labels).
at::Tensor target_loss_sum(const at::Tensor& logits, const at::Tensor& labels) {
  const std::int64_t seq = logits.size(1), vocab = logits.size(2);
  return at::cross_entropy_loss(logits.narrow(1, 0, seq - 1).reshape({-1, vocab}),
                                labels.narrow(1, 1, seq - 1).reshape({-1}), /*weight=*/{}, at::Reduction::Sum,
                                model::kIgnoreIndex);
}

std::unique_ptr<ProcessGroup> join_process_group(const TrainConfig& config, at::Device device) {
  const auto environment = DistributedEnvironment::from_environment();
  if (environment.world_size == 1) return std::make_unique<ProcessGroup>();
  return std::make_unique<ProcessGroup>(environment, config.distributed, device);
}

}  // namespace

class Trainer::Impl final : public TrainerServices {
 public:
  Impl(TrainConfig config_in, std::vector<std::shared_ptr<Callback>> config_callbacks_in,
       std::shared_ptr<model::CausalLm> model_in, TrainingData data_in, std::unique_ptr<ProcessGroup> group_in)
      : config(std::move(config_in)),
        group(std::move(group_in)),
        model(std::move(model_in)),
        data(std::move(data_in)) {
    setup(std::move(config_callbacks_in));
  }

  TrainConfig config;
  std::unique_ptr<ProcessGroup> group;
  std::shared_ptr<model::CausalLm> model;
  TrainingData data;
  std::unique_ptr<FlatParameters> parameters;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<LrSchedule> schedule;
  std::unique_ptr<text::DataLoader> loader;
  std::unique_ptr<Evaluator> evaluator;
  std::unique_ptr<TrainState> state;
  std::vector<std::shared_ptr<Callback>> callbacks;  // registration order
  std::vector<Callback*> order;                      // dispatch order, fixed when training starts
  std::int64_t pad_id = 0;
  bool trained = false;
  std::unique_ptr<io::OutputLock> output_lock;  // held by the main process for the whole run
  bool last_step_evaluated = false;
  bool resumed_after_epoch_end = false;  // the checkpoint resumed from ended its epoch (epoch_end is pending)
  double train_seconds = 0;              // time spent in steps (not in evaluation or checkpoints)
  double input_tokens = 0;               // non-padding input tokens of those steps, every process

  // `config_callbacks`: the config's `averaging:` and `callbacks:`, added after the built-in observers.
  void setup(std::vector<std::shared_ptr<Callback>> config_callbacks);
  void add_callback(std::shared_ptr<Callback> callback);
  void dispatch(Event event);
  TrainResult train(const std::optional<std::filesystem::path>& resume_from);
  void prepare_output_dir(bool resuming) const;
  std::vector<text::Batch> next_micro_batches(std::int64_t& targets, std::int64_t& tokens);
  void run_step();
  void evaluate_now();
  void write_checkpoint();
  void restore_checkpoint(const std::filesystem::path& path);
  void restore_weights(const std::filesystem::path& path, bool lora);

  Metrics evaluate(const std::string& label) override {
    if (!evaluator || evaluator->empty()) throw Error("evaluation: the run has no held-out data (data.valid)");
    return evaluator->evaluate(*model, *group, label);
  }
  void save_model(const std::filesystem::path& directory) override {
    if (group->is_main()) {
      model::CausalLmFolderOptions options;
      options.tokenizer_files = data.tokenizer_files;
      options.merge_lora = config.lora.save_merged;
      model::write_causal_lm_folder(*model, directory, options);
    }
    group->barrier();
  }
};

void Trainer::Impl::setup(std::vector<std::shared_ptr<Callback>> config_callbacks) {
  if (!model) throw Error("trainer: no model");
  if (!data.tokenizer) throw Error("trainer: the training data has no tokenizer");
  if (!data.train || data.train->size() == 0) throw Error("trainer: no training examples");
  pad_id = data.tokenizer->pad_id().value_or(data.tokenizer->eos_id().value_or(0));
  // Dropout draws from the default CPU generator; each process gets its own stream.
  at::manual_seed(config.seed + static_cast<std::uint64_t>(group->rank()));
  if (config.lora.enabled && !model::has_lora_adapters(*model)) {
    model::LoraOptions lora;
    lora.r = config.lora.r;
    lora.alpha = config.lora.alpha;
    lora.dropout = config.lora.dropout;
    lora.target_modules = config.lora.target_modules;
    lora.seed = config.seed;
    const auto adapted = model::add_lora_adapters(*model, lora);
    LADLE_LOG(info) << "LoRA: r " << lora.r << ", alpha " << lora.alpha << " on " << adapted.size() << " layers";
  }
  model->train();

  // Decaying tensors first, so weight decay is one pass over a prefix of the flat buffer.
  const WeightDecayPartition partition = weight_decay_partition(*model, config.optimizer.decay_embeddings);
  std::vector<std::pair<std::string, at::Tensor>> trainable = partition.decay;
  trainable.insert(trainable.end(), partition.no_decay.begin(), partition.no_decay.end());
  if (trainable.empty()) throw Error("trainer: the model has no trainable parameter");
  std::int64_t decay_numel = 0;
  for (const auto& [name, tensor] : partition.decay) decay_numel += tensor.numel();
  parameters = std::make_unique<FlatParameters>(trainable);
  // Every process starts from rank 0's weights, as DistributedDataParallel does.
  group->broadcast(const_cast<at::Tensor&>(parameters->groups().front().values));
  optimizer = with_online_merging(make_optimizer(config.optimizer, *parameters, decay_numel), *parameters,
                                  config.online_merging);

  text::DataLoaderOptions loader_options;
  loader_options.batch_size = config.batch_size * static_cast<std::size_t>(group->world_size());
  loader_options.seed = config.seed;
  loader_options.pad_id = pad_id;
  loader = std::make_unique<text::DataLoader>(data.train, loader_options);
  const auto accumulation = static_cast<std::size_t>(config.gradient_accumulation_steps);
  const auto steps_per_epoch =
      static_cast<std::int64_t>((loader->batches_per_epoch() + accumulation - 1) / accumulation);
  const std::int64_t max_steps = config.max_steps > 0 ? config.max_steps : config.epochs * steps_per_epoch;
  schedule = std::make_unique<LrSchedule>(config.schedule, config.optimizer.lr, max_steps);
  optimizer->set_learning_rate(schedule->at(0));
  evaluator = std::make_unique<Evaluator>(make_evaluation_set(data, config.evaluation, config.seed), config.evaluation,
                                          data.tokenizer, config.bf16);

  state = std::make_unique<TrainState>(*this, *model, *optimizer, *parameters, config, *data.tokenizer, *group);
  state->max_steps = max_steps;
  state->steps_per_epoch = steps_per_epoch;
  state->output_dir = config.output_dir;

  callbacks.push_back(std::make_shared<ProgressCallback>());
  callbacks.push_back(std::make_shared<MetricsJsonlCallback>());
  callbacks.push_back(std::make_shared<CheckpointCallback>(
      CheckpointPolicy{config.checkpoint.every_steps, config.checkpoint.keep_last, config.checkpoint.at_end}));
  for (auto& callback : config_callbacks) add_callback(std::move(callback));
  LADLE_LOG(info) << "trainer: " << parameters->numel() << " trainable parameters, " << data.train->size()
                  << " examples, " << steps_per_epoch << " steps per epoch of " << config.batch_size << " x "
                  << config.gradient_accumulation_steps << " x " << group->world_size() << " examples, " << max_steps
                  << " steps";
}

void Trainer::Impl::add_callback(std::shared_ptr<Callback> callback) {
  if (!callback) throw Error("add_callback: null callback");
  if (trained) throw Error("add_callback: '" + callback->name() + "' added after training started");
  static const std::regex valid_name("[A-Za-z0-9_.-]+");
  const std::string name = callback->name();
  if (!std::regex_match(name, valid_name)) {
    throw Error("callback name '" + name + "': use letters, digits, '_', '-' and '.' only (it names a folder)");
  }
  for (const auto& existing : callbacks) {
    if (existing->name() == name) throw Error("callback name '" + name + "' is already registered");
  }
  callbacks.push_back(std::move(callback));
}

void Trainer::Impl::dispatch(Event event) {
  for (Callback* callback : order) callback->on_event(event, *state);
}

void Trainer::Impl::prepare_output_dir(bool resuming) const {
  const auto& dir = config.output_dir;
  std::error_code error;
  const bool has_run =
      !complete_checkpoints(checkpoints_dir(dir)).empty() || std::filesystem::exists(dir / "final", error);
  if (!resuming && has_run && !config.overwrite_output_dir) {
    throw Error("output_dir " + dir.string() +
                " already holds a run (checkpoints/ or final/): continue it with --resume " + dir.string() +
                ", choose another output_dir, or set overwrite_output_dir: true");
  }
  if (group->is_main()) {
    std::filesystem::create_directories(dir);
    if (resuming) {
      remove_partial_checkpoints(dir);
    } else if (has_run) {
      LADLE_LOG(warning) << "overwrite_output_dir: removing the previous run's results in " << dir.string();
      for (const char* name : {"checkpoints", "final", "fisher.safetensors", "metrics.jsonl"}) {
        std::filesystem::remove_all(dir / name);
      }
    }
    io::write_file_atomically(dir / "train_config.json", config.to_json().dump(2) + "\n");
  }
  group->barrier();
}

std::vector<text::Batch> Trainer::Impl::next_micro_batches(std::int64_t& targets, std::int64_t& tokens) {
  std::vector<text::Batch> batches;
  targets = 0;
  tokens = 0;
  const auto epoch = loader->epoch();
  const auto rank = static_cast<std::size_t>(group->rank());
  for (std::int64_t i = 0; i < config.gradient_accumulation_steps && loader->epoch() == epoch; ++i) {
    const std::vector<std::size_t> indices = loader->next_indices();
    const std::size_t begin = std::min(indices.size(), rank * config.batch_size);
    const std::size_t end = std::min(indices.size(), begin + config.batch_size);
    if (begin == end) continue;  // the epoch's last global batch left nothing for this process
    std::vector<text::TokenizedExample> examples;
    for (std::size_t j = begin; j < end; ++j) {
      examples.push_back(data.train->example(indices[j]));
      targets += target_count(examples.back());
      tokens += static_cast<std::int64_t>(examples.back().input_ids.size());
    }
    batches.push_back(text::collate(examples, pad_id));
  }
  return batches;
}

void Trainer::Impl::run_step() {
  std::int64_t local_targets = 0, local_tokens = 0;
  std::vector<text::Batch> batches = next_micro_batches(local_targets, local_tokens);
  at::Tensor counts = at::tensor({static_cast<double>(local_targets), static_cast<double>(local_tokens)}, at::kDouble);
  group->all_reduce_sum(counts);
  const double total_targets = counts[0].item<double>(), step_tokens = counts[1].item<double>();
  state->micro_batches = std::move(batches);
  state->loss = std::nan("");
  state->grad_norm = std::nan("");
  dispatch(Event::step_begin);

  const auto started = std::chrono::steady_clock::now();
  parameters->zero_grad();
  double local_loss = 0;
  const at::Device device = model->device();
  for (const text::Batch& batch : state->micro_batches) {
    at::Tensor logits;
    const at::Tensor mask = batch.attention_mask.to(device);
    {
      Bf16Autocast autocast(config.bf16, device);
      model::ForwardOptions options;
      options.attention_mask = mask;
      logits = model->forward(batch.input_ids.to(device), options).logits;
    }
    // The micro-batch's share of the mean over the whole step's target tokens (see trainer.h).
    const at::Tensor loss_sum = target_loss_sum(logits, batch.labels.to(device));
    if (total_targets > 0) (loss_sum / total_targets).backward();
    local_loss += loss_sum.item<double>();
    ++state->micro_step;
  }
  at::Tensor& gradients = const_cast<at::Tensor&>(parameters->groups().front().gradients);
  group->all_reduce_sum(gradients);
  at::Tensor loss = at::tensor({local_loss}, at::kDouble);
  group->all_reduce_sum(loss);
  state->loss = total_targets > 0 ? loss.item<double>() / total_targets : std::nan("");
  if (total_targets > 0 && !std::isfinite(state->loss)) {
    throw Error("training diverged: the loss of step " + std::to_string(state->step + 1) + " is " +
                std::to_string(state->loss) + " (lower optimizer.lr, or keep max_grad_norm clipping on)");
  }
  dispatch(Event::after_backward);

  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  const double grad_norm = gradients.norm().item<double>();
  if (config.max_grad_norm > 0) {
    const double coefficient = config.max_grad_norm / (grad_norm + 1e-6);
    if (coefficient < 1) gradients.mul_(coefficient);
  }
  const double learning_rate = optimizer->learning_rate();
  optimizer->step();
  ++state->step;
  state->tokens += static_cast<std::int64_t>(total_targets);
  state->grad_norm = grad_norm;
  optimizer->set_learning_rate(schedule->at(state->step));
  train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  input_tokens += step_tokens;
  state->metrics["train/loss"] = state->loss;
  state->metrics["train/learning_rate"] = learning_rate;
  state->metrics["train/grad_norm"] = grad_norm;
  state->metrics["train/tokens_per_second"] = train_seconds > 0 ? input_tokens / train_seconds : 0;
  dispatch(Event::after_optimizer_step);

  last_step_evaluated = false;
  if (config.evaluation.every_steps > 0 && state->step % config.evaluation.every_steps == 0 && !evaluator->empty()) {
    evaluate_now();
    last_step_evaluated = true;
  }
  dispatch(Event::step_end);
  if (state->checkpoint_requested()) {
    write_checkpoint();
    state->checkpoint_requested_ = false;
    dispatch(Event::checkpoint_save);
  }
}

void Trainer::Impl::evaluate_now() {
  state->evaluation_metric_names.clear();
  dispatch(Event::before_evaluation);
  state->evaluate("eval");
  dispatch(Event::after_evaluation);
}

void Trainer::Impl::write_checkpoint() {
  const auto path = checkpoint_path(config.output_dir, state->step);
  // Every process's generator state, gathered on every process (a sum of rows only one process fills).
  const at::Tensor own = cpu_generator_state();
  at::Tensor generators = at::zeros({group->world_size(), own.numel()}, at::kLong);
  generators[group->rank()].copy_(own);
  group->all_reduce_sum(generators);
  if (group->is_main()) {
    io::AtomicDirectory folder(path, /*overwrite=*/true);
    const bool lora = model::has_lora_adapters(*model);
    if (lora) {
      model::save_lora_adapter(model::lora_adapter(*model), folder.path() / "adapter");
    } else {
      model::CausalLmFolderOptions options;
      options.tokenizer_files = data.tokenizer_files;
      options.overwrite = false;
      model::write_causal_lm_folder(*model, folder.path() / "model", options);
    }
    io::write_safetensors(folder.path() / "optimizer.safetensors", optimizer->state_tensors());
    NamedTensors rng;
    for (int r = 0; r < group->world_size(); ++r) {
      rng.insert("torch_cpu_generator.rank" + std::to_string(r), generators[r].to(at::kByte));
    }
    io::write_safetensors(folder.path() / "rng.safetensors", rng);
    nlohmann::json callback_list = nlohmann::json::array();
    for (Callback* callback : order) {
      CallbackState callback_state;
      callback_state.directory = folder.path() / "callbacks" / callback->name();
      std::filesystem::create_directories(callback_state.directory);
      callback->save_state(callback_state);
      write_callback_state(callback_state.directory, callback_state);
      callback_list.push_back({{"name", callback->name()}, {"kind", callback_kind_name(callback->kind())}});
    }
    nlohmann::json metrics = nlohmann::json::object();
    for (const auto& [name, value] : state->metrics) {
      if (std::isfinite(value)) metrics[name] = value;
    }
    const nlohmann::json trainer_state = {
        {"format", "ladle-trainer-checkpoint"},
        {"version", kCheckpointVersion},
        {"step", state->step},
        {"epoch", state->epoch},
        {"epoch_finished", static_cast<std::int64_t>(loader->epoch()) != state->epoch},
        {"micro_step", state->micro_step},
        {"tokens", state->tokens},
        {"max_steps", state->max_steps},
        {"world_size", group->world_size()},
        {"batch_size", config.batch_size},
        {"gradient_accumulation_steps", config.gradient_accumulation_steps},
        {"seed", config.seed},
        {"lora", lora},
        {"data_loader", loader->state().to_json()},
        {"optimizer", optimizer->state_json()},
        {"metrics", metrics},
        {"callbacks", callback_list},
    };
    // Last, the state and then the checksums of every file; the folder is complete once committed under its name.
    io::write_file_atomically(folder.path() / kTrainerStateFile, trainer_state.dump(2) + "\n");
    io::write_checksum_manifest(folder.path());
    folder.commit();
  }
  group->barrier();
  state->last_checkpoint = path;
}

void Trainer::Impl::restore_weights(const std::filesystem::path& path, bool lora) {
  if (!lora) {
    io::CheckpointReader reader(path / "model");
    model->load_hf_state_dict(reader.load_all(), (path / "model").string());
    return;
  }
  const model::LoraAdapter adapter = model::read_lora_adapter(path / "adapter");
  NamedTensors tensors;
  for (const auto& [name, tensor] : adapter.tensors) {
    if (name.rfind(kPeftPrefix, 0) != 0)
      throw Error((path / "adapter").string() + ": unexpected tensor '" + name + "'");
    tensors.insert(name.substr(std::string(kPeftPrefix).size()), tensor);
  }
  parameters->copy_from(tensors);
}

void Trainer::Impl::restore_checkpoint(const std::filesystem::path& path) {
  const auto state_file = path / kTrainerStateFile;
  const nlohmann::json saved = io::parse_json_strict(io::read_text_file(state_file, io::kNoSizeLimit), state_file.string(), 64);
  const bool lora = model::has_lora_adapters(*model);
  try {
    if (saved.at("format") != "ladle-trainer-checkpoint" || saved.at("version") != kCheckpointVersion) {
      throw Error(state_file.string() + ": not a version " + std::to_string(kCheckpointVersion) +
                  " ladle trainer checkpoint");
    }
    const std::pair<const char*, nlohmann::json> must_match[] = {
        {"world_size", group->world_size()},
        {"batch_size", config.batch_size},
        {"gradient_accumulation_steps", config.gradient_accumulation_steps},
        {"seed", config.seed},
        {"lora", lora}};
    for (const auto& [key, value] : must_match) {
      if (saved.at(key) != value) {
        throw Error(state_file.string() + ": the checkpoint was written with " + key + " " + saved.at(key).dump() +
                    ", this run has " + value.dump() + " (resuming exactly needs the same)");
      }
    }
    restore_weights(path, lora);
    io::SafetensorsReader optimizer_file(path / "optimizer.safetensors");
    NamedTensors optimizer_tensors;
    for (const auto& entry : optimizer_file.entries())
      optimizer_tensors.insert(entry.name, optimizer_file.tensor(entry.name));
    optimizer->load_state(optimizer_tensors, saved.at("optimizer"));
    loader->restore(text::DataLoaderState::from_json(saved.at("data_loader")));
    io::SafetensorsReader rng(path / "rng.safetensors");
    set_cpu_generator_state(rng.tensor("torch_cpu_generator.rank" + std::to_string(group->rank())).clone());

    state->step = saved.at("step").get<std::int64_t>();
    state->epoch = saved.at("epoch").get<std::int64_t>();
    state->micro_step = saved.at("micro_step").get<std::int64_t>();
    state->tokens = saved.at("tokens").get<std::int64_t>();
    resumed_after_epoch_end = saved.at("epoch_finished").get<bool>();
    for (const auto& [name, value] : saved.at("metrics").items()) state->metrics[name] = value.get<double>();

    std::vector<std::string> saved_callbacks;
    for (const auto& entry : saved.at("callbacks")) saved_callbacks.push_back(entry.at("name").get<std::string>());
    for (Callback* callback : order) {
      if (std::find(saved_callbacks.begin(), saved_callbacks.end(), callback->name()) == saved_callbacks.end()) {
        throw Error(path.string() + ": holds no state for callback '" + callback->name() +
                    "' (it was not registered when the checkpoint was written), so the run cannot continue exactly");
      }
      callback->load_state(read_callback_state(path / "callbacks" / callback->name()));
    }
    for (const auto& name : saved_callbacks) {
      const bool registered = std::any_of(order.begin(), order.end(), [&](Callback* c) { return c->name() == name; });
      if (!registered) {
        LADLE_LOG(warning) << path.string() << ": ignoring the state of callback '" << name << "'";
      }
    }
  } catch (const nlohmann::json::exception& error) {
    throw Error(state_file.string() + ": malformed trainer state: " + error.what());
  }
  state->resumed = true;
  state->last_checkpoint = path;
  LADLE_LOG(info) << "resumed from " << path.string() << " at step " << state->step;
  dispatch(Event::checkpoint_load);
}

TrainResult Trainer::Impl::train(const std::optional<std::filesystem::path>& resume_from) {
  if (trained) throw Error("Trainer::train: a trainer runs once; make a new one to train again");
  trained = true;
  for (CallbackKind kind : {CallbackKind::modifies_weights, CallbackKind::observes}) {
    for (const auto& callback : callbacks) {
      if (callback->kind() == kind) order.push_back(callback.get());
    }
  }
  // Refuse a --resume without a checkpoint, and a folder another process is writing, before writing anything.
  const std::optional<std::filesystem::path> checkpoint =
      resume_from ? std::optional(find_checkpoint_to_resume(*resume_from)) : std::nullopt;
  if (group->is_main()) {
    output_lock = std::make_unique<io::OutputLock>(config.output_dir);
    io::remove_stale_lock_files(checkpoints_dir(config.output_dir));  // the run lock covers every checkpoint's
  }
  prepare_output_dir(resume_from.has_value());
  if (checkpoint) restore_checkpoint(*checkpoint);
  dispatch(Event::train_begin);

  bool epoch_open = state->resumed;
  if (resumed_after_epoch_end) {
    dispatch(Event::epoch_end);
    epoch_open = false;
  }
  while (state->step < state->max_steps && !state->stop_requested()) {
    if (!epoch_open) {
      state->epoch = static_cast<std::int64_t>(loader->epoch());
      dispatch(Event::epoch_begin);
      epoch_open = true;
    }
    run_step();
    if (static_cast<std::int64_t>(loader->epoch()) != state->epoch) {
      dispatch(Event::epoch_end);
      epoch_open = false;
    }
  }
  if (epoch_open) dispatch(Event::epoch_end);
  if (config.evaluation.at_end && !last_step_evaluated && !evaluator->empty()) evaluate_now();

  state->final_model_dir = config.output_dir / "final";
  save_model(state->final_model_dir);
  if (config.fisher.enabled) {
    if (!data.valid) throw Error("fisher.enabled: the run has no held-out data (data.valid)");
    const NamedTensors fisher =
        diagonal_fisher(*model, *parameters, *data.valid, config.fisher.examples, config.seed, *group, config.bf16);
    if (group->is_main()) {
      io::write_safetensors(config.output_dir / "fisher.safetensors", fisher,
                            {{"format", "pt"},
                             {"fisher", "empirical diagonal"},
                             {"examples", std::to_string(std::min(config.fisher.examples, data.valid->size()))}});
    }
  }
  dispatch(Event::train_end);
  return {state->step, state->metrics, state->final_model_dir, state->last_checkpoint};
}

Trainer::Trainer(TrainConfig config) {
  config.validate();
  config.validate_sources();
  require_output_folder(config.output_dir);
  // Before anything slow, so a misspelt callback type or option fails at once.
  auto config_callbacks = make_config_callbacks(config);
  configure_threads(config.threads);
  if (config.retain_freed_memory) retain_freed_memory();
  const at::Device device =
      process_device(model::resolve_device(config.device), DistributedEnvironment::from_environment());
  auto group = join_process_group(config, device);
  auto tokenizer = load_tokenizer(config);
  auto data = load_training_data(config, tokenizer, config.output_dir / "cache");
  auto model = load_model(config, *tokenizer, device);
  impl_ = std::make_unique<Impl>(std::move(config), std::move(config_callbacks), std::move(model), std::move(data),
                                 std::move(group));
}

Trainer::Trainer(TrainConfig config, std::shared_ptr<model::CausalLm> model, TrainingData data) {
  config.validate();
  require_output_folder(config.output_dir);
  auto config_callbacks = make_config_callbacks(config);
  configure_threads(config.threads);
  if (config.retain_freed_memory) retain_freed_memory();
  if (!model) throw Error("Trainer: no model");
  auto group = join_process_group(config, model->device());
  impl_ = std::make_unique<Impl>(std::move(config), std::move(config_callbacks), std::move(model), std::move(data),
                                 std::move(group));
}

Trainer::~Trainer() = default;

void Trainer::add_callback(std::shared_ptr<Callback> callback) { impl_->add_callback(std::move(callback)); }

TrainResult Trainer::train(const std::optional<std::filesystem::path>& resume_from) {
  return impl_->train(resume_from);
}

const TrainConfig& Trainer::config() const { return impl_->config; }
TrainState& Trainer::state() { return *impl_->state; }
model::CausalLm& Trainer::model() { return *impl_->model; }

std::vector<std::shared_ptr<Callback>> Trainer::callbacks_in_order() const {
  std::vector<std::shared_ptr<Callback>> ordered;
  for (CallbackKind kind : {CallbackKind::modifies_weights, CallbackKind::observes}) {
    for (const auto& callback : impl_->callbacks) {
      if (callback->kind() == kind) ordered.push_back(callback);
    }
  }
  return ordered;
}

}  // namespace ladle::trainer
