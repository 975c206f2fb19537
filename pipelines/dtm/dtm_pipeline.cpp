#include "pipelines/dtm/dtm_pipeline.h"

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "trainer/heldout_evaluator.h"
#include "callbacks/model_soup.h"
#include "clustering/balanced_assignment.h"
#include "clustering/embedder.h"
#include "clustering/tfidf_embedder.h"
#include "clustering/kmeans.h"
#include "clustering/npy.h"
#include "clustering/partition.h"
#include "clustering/partition_report.h"
#include "lib/io/atomic_file.h"
#include "lib/io/json_member.h"
#include "lib/log/log.h"
#include "lib/merge/input_models.h"
#include "lib/merge/lora_merge.h"
#include "lib/merge/merge_check.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/device.h"
#include "lib/text/instruction_record.h"
#include "lib/text/seeded_permutation.h"
#include "lib/util/error.h"
#include "lib/util/malloc_tuning.h"
#include "lib/util/string_affixes.h"
#include "trainer/bf16_autocast.h"
#include "trainer/distributed.h"
#include "pipelines/dtm/child_processes.h"
#include "lib/config/config_source.h"
#include "lib/config/schema.h"
#include "pipelines/dtm/dtm_ensemble.h"
#include "pipelines/dtm/dtm_fingerprints.h"
#include "pipelines/dtm/dtm_report.h"
#include "trainer/training_data.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;

constexpr DtmStage kStages[] = {DtmStage::embed, DtmStage::cluster,  DtmStage::train,
                                DtmStage::merge, DtmStage::evaluate, DtmStage::report};

// True when `output` exists and no input that exists was written after it: a stage's output is reused only while
// what it was made from is unchanged (a retrained sub-model makes its merge, and the merge's evaluation, stale).
bool up_to_date(const fs::path& output, const std::vector<fs::path>& inputs) {
  std::error_code error;
  if (!fs::exists(output, error)) return false;
  const auto written = fs::last_write_time(output);
  for (const auto& input : inputs) {
    if (fs::exists(input, error) && fs::last_write_time(input) > written) return false;
  }
  return true;
}

// The file's lines, in order (a UTF-8 byte-order mark dropped), so records can be copied as they were written.
std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot read");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (!lines.empty() && starts_with(lines.front(), "\xEF\xBB\xBF")) lines.front().erase(0, 3);
  return lines;
}

std::string joined_lines(const std::vector<std::string>& lines, const std::vector<std::size_t>& indices) {
  std::string text;
  for (const std::size_t i : indices) text += lines[i] + "\n";
  return text;
}

// One partition's folder: the partition files, its report, and cluster-<k>.jsonl with each cluster's records
// copied from `lines` (line i is record i).
void write_split(const fs::path& directory, const clustering::Partition& partition,
                 const std::vector<text::InstructionRecord>& records, const std::vector<std::string>& lines,
                 const nlohmann::json& settings) {
  fs::create_directories(directory);
  std::vector<std::string> tasks;
  for (const auto& record : records) tasks.push_back(record.task);
  clustering::write_partition(directory, partition, tasks);
  clustering::write_report(directory, clustering::partition_report(partition, records, settings));
  std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(partition.k));
  for (std::size_t i = 0; i < partition.assignments.size(); ++i) {
    members[static_cast<std::size_t>(partition.assignments[i])].push_back(i);
  }
  for (std::int64_t c = 0; c < partition.k; ++c) {
    io::write_file_atomically(directory / ("cluster-" + std::to_string(c) + ".jsonl"),
                              joined_lines(lines, members[static_cast<std::size_t>(c)]));
  }
}

// Under torchrun every process of a data-parallel run executes the pipeline up to its --only-run: a stage before
// training that is not done would be computed and written by every process at once, so it must be done first.
void require_single_process(const char* stage, const fs::path& config_file) {
  const int world_size = trainer::DistributedEnvironment::from_environment().world_size;
  if (world_size > 1) {
    throw Error("dtm: the " + std::string(stage) + " stage is not done, and this is one of " +
                std::to_string(world_size) + " data-parallel processes (WORLD_SIZE); run `ladle dtm --config " +
                config_file.string() + " --until cluster` once first, without torchrun");
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The fingerprint an evaluation file records, or "" when it is missing or unreadable.
std::string evaluation_fingerprint(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return "";
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  return io::json_member<std::string>(json, "fingerprint").value_or("");
}


}  // namespace

struct DtmPipeline::EvaluatedModel {
  std::string name;          // evaluate/<name>.json: the method's name, with "-seed<s>" in replicate s > 0
  std::string method;        // base, vanilla, dtm-kmeans, dtm-random, soup
  std::string title;         // the report's column
  std::uint64_t replicate;   // the experiment's seed it belongs to (base: 0, shared by every replicate)
  fs::path path;             // the model folder
  fs::path made_from;        // what makes it stale when newer (a run's dtm-run.json, a merge folder)
  std::vector<DtmRun> runs;  // the runs behind it
  std::string fingerprint;   // of its evaluation (DtmFingerprints::evaluation)
  std::int64_t k = 0;        // the K of its sub-models (0: base and vanilla)
};

const char* dtm_stage_name(DtmStage stage) {
  switch (stage) {
    case DtmStage::embed:
      return "embed";
    case DtmStage::cluster:
      return "cluster";
    case DtmStage::train:
      return "train";
    case DtmStage::merge:
      return "merge";
    case DtmStage::evaluate:
      return "evaluate";
    case DtmStage::report:
      return "report";
  }
  return "unknown";
}

std::optional<DtmStage> parse_dtm_stage(const std::string& name) {
  for (const DtmStage stage : kStages) {
    if (name == dtm_stage_name(stage)) return stage;
  }
  return std::nullopt;
}

DtmPipeline::~DtmPipeline() = default;

DtmPipeline::DtmPipeline(DtmConfig config, DtmPipelineOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      base_train_(config_.train_config()),
      fingerprints_(std::make_unique<DtmFingerprints>(config_, layout_, base_train_)) {
  if (config_.config_file.empty()) throw Error("ladle dtm: the config must be a file (child processes re-read it)");
  if (options_.jobs < 1) throw Error("--jobs must be at least 1");
  layout_.root = fs::absolute(config_.output_dir).lexically_normal();
  if (config_.total_steps == 0 && base_train_.max_steps == 0) {
    throw Error(config_.config_file.string() + ": total_steps: set it, or max_steps in the training config (" +
                config_.train.source->label() + ")");
  }
  // Each of the K sub-models trains at least one step: say so before embedding and clustering, not after.
  const std::int64_t total = config_.total_steps > 0 ? config_.total_steps : base_train_.max_steps;
  if (total < config_.cluster.max_k()) {
    throw Error(config_.config_file.string() + ": total_steps: " + std::to_string(total) + " steps cannot train " +
                std::to_string(config_.cluster.max_k()) + " sub-models (cluster.k) one step each");
  }
}

std::string DtmPipeline::run() {
  using StageFunction = void (DtmPipeline::*)();
  const std::pair<DtmStage, StageFunction> stages[] = {
      {DtmStage::embed, &DtmPipeline::embed}, {DtmStage::cluster, &DtmPipeline::cluster},
      {DtmStage::train, &DtmPipeline::train}, {DtmStage::merge, &DtmPipeline::merge},
      {DtmStage::evaluate, &DtmPipeline::evaluate}, {DtmStage::report, &DtmPipeline::report}};
  const auto start = std::chrono::steady_clock::now();
  report_text_.clear();
  if (!options_.only_models.empty()) {
    evaluate();
    LADLE_LOG(info) << "dtm: evaluated in " << seconds_since(start) << " s";
    return report_text_;
  }
  const bool only_training = !options_.only_runs.empty() || options_.only_cluster.has_value();
  for (const auto& [stage, function] : stages) {
    const auto stage_start = std::chrono::steady_clock::now();
    (this->*function)();
    LADLE_LOG(info) << "dtm: stage " << dtm_stage_name(stage) << " done in " << seconds_since(stage_start) << " s";
    if (stage == options_.until || (only_training && stage == DtmStage::train)) break;
  }
  LADLE_LOG(info) << "dtm: finished in " << seconds_since(start) << " s; output in " << layout_.root.string();
  return report_text_;
}

void DtmPipeline::embed() {
  const std::string fingerprint = fingerprints_->embed();
  if (recorded_fingerprint(layout_.embed_dir()) == fingerprint) {
    LADLE_LOG(info) << "dtm: embed: reusing " << layout_.embed_dir().string();
    return;
  }
  require_single_process("embed", config_.config_file);
  const auto start = std::chrono::steady_clock::now();
  const fs::path source = base_train_.data.train;
  text::InstructionReadOptions read_options;
  read_options.skip_bad_lines = base_train_.data.skip_bad_lines;
  std::vector<text::InstructionRecord> all = text::read_instruction_jsonl(source, read_options).records;
  const std::vector<std::string> lines = read_lines(source);

  // The records kept: all, or a seeded subset in file order.
  std::vector<std::size_t> kept(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) kept[i] = i;
  if (config_.records > 0 && config_.records < all.size()) {
    kept = text::seeded_permutation(all.size(), base_train_.seed);
    kept.resize(config_.records);
    std::sort(kept.begin(), kept.end());
  }
  std::vector<text::InstructionRecord> records;
  std::vector<std::size_t> line_indices;
  for (const std::size_t i : kept) {
    records.push_back(all[i]);
    line_indices.push_back(all[i].line - 1);
  }
  if (static_cast<std::int64_t>(records.size()) < config_.cluster.max_k()) {
    throw Error(config_.config_file.string() + ": cluster.k: " + std::to_string(config_.cluster.max_k()) +
                " clusters need at least as many records; " + source.string() + " gives " +
                std::to_string(records.size()));
  }

  io::AtomicDirectory out(layout_.embed_dir(), /*overwrite=*/true);
  const clustering::FloatMatrix embeddings = embed_records(records, out.path());
  io::write_file_atomically(out.path() / layout_.records_file().filename(), joined_lines(lines, line_indices));
  clustering::write_npy(out.path() / layout_.embeddings_file().filename(), embeddings);
  const nlohmann::json info = {{"source", source.string()},
                               {"records", records.size()},
                               {"embedder", config_.embed.embedder_kind == DtmEmbedder::tfidf ? "tfidf"
                                                                                             : "hidden_states"},
                               {"model", base_train_.model.path.string()},
                               {"text", clustering::embed_text_name(config_.embed.embedder.text)},
                               {"pooling", clustering::pooling_name(config_.embed.embedder.pooling)},
                               {"layer", config_.embed.embedder.layer},
                               {"seconds", seconds_since(start)}};
  io::write_file_atomically(out.path() / "embed.json", info.dump(2) + "\n");
  record_fingerprint(out.path(), fingerprint);
  out.commit();
}

clustering::FloatMatrix DtmPipeline::embed_records(const std::vector<text::InstructionRecord>& records,
                                                   const fs::path& folder) const {
  const clustering::EmbedText text = config_.embed.embedder.text;
  if (config_.embed.embedder_kind == DtmEmbedder::tfidf) {
    LADLE_LOG(info) << "dtm: embedding the " << clustering::embed_text_name(text) << " of " << records.size()
                    << " records by TF-IDF and truncated SVD";
    std::vector<std::string> texts;
    for (const auto& record : records) texts.push_back(clustering::embedding_text(record, text));
    const auto embedder = clustering::TfidfEmbedder::fit(texts, config_.embed.tfidf);
    embedder.save(folder);
    LADLE_LOG(info) << "dtm: " << embedder.vocabulary().size() << " terms, " << embedder.dimensions()
                    << " SVD dimensions";
    return embedder.embed(texts);
  }
  auto tokenizer = trainer::load_tokenizer(base_train_);
  auto model = model::load_causal_lm(base_train_.model.path, model::resolve_device(config_.device));
  model->eval();
  LADLE_LOG(info) << "dtm: embedding the " << clustering::embed_text_name(text) << " of " << records.size()
                  << " records with " << base_train_.model.path.string();
  const trainer::Bf16Autocast autocast(config_.embed.bf16, model->device());
  return clustering::Embedder(model, tokenizer, config_.embed.embedder).embed(records);
}

void DtmPipeline::cluster() {
  for (const std::uint64_t replicate : config_.seeds) {
    for (const std::int64_t k : config_.cluster.trained_k()) cluster_replicate(replicate, k);
  }
}

void DtmPipeline::cluster_replicate(std::uint64_t replicate, std::int64_t k) {
  const fs::path folder = layout_.cluster_dir(replicate, config_.cluster.name_k(k));
  const std::string fingerprint = fingerprints_->cluster(k, replicate);
  if (up_to_date(folder, {layout_.embed_dir()}) && recorded_fingerprint(folder) == fingerprint) {
    LADLE_LOG(info) << "dtm: cluster: reusing " << folder.string();
    return;
  }
  require_single_process("cluster", config_.config_file);
  const clustering::FloatMatrix embeddings = clustering::read_npy(layout_.embeddings_file());
  const auto records = text::read_instruction_jsonl(layout_.records_file()).records;
  const auto lines = read_lines(layout_.records_file());
  if (static_cast<std::size_t>(embeddings.rows) != records.size() || lines.size() != records.size()) {
    throw Error(layout_.embed_dir().string() + ": embeddings.npy and train.jsonl differ in length; delete the folder");
  }
  clustering::KMeansOptions options = config_.cluster.options(k);
  options.seed += static_cast<int>(replicate);
  clustering::KMeansResult kmeans = clustering::kmeans_partition(embeddings, options);
  if (config_.cluster.balanced) clustering::balance_partition(kmeans.partition, embeddings);
  for (const std::int64_t empty : clustering::empty_clusters(kmeans.partition)) {
    LADLE_LOG(warning) << "dtm: k-means cluster " << empty << " is empty: no sub-model is trained for it";
  }
  const nlohmann::json settings = {{"k", options.k},
                                   {"iterations", options.iterations},
                                   {"nredo", options.nredo},
                                   {"seed", options.seed},
                                   {"spherical", options.spherical},
                                   {"balanced", config_.cluster.balanced},
                                   {"kmeans_seconds", kmeans.seconds}};
  io::AtomicDirectory out(folder, /*overwrite=*/true);
  write_split(out.path() / "kmeans", kmeans.partition, records, lines, settings);
  // The paper's control: the same number and sizes of clusters, drawn at random.
  clustering::Partition random =
      clustering::random_partition(kmeans.partition.sizes, static_cast<std::uint64_t>(options.seed));
  clustering::set_mean_centroids(random, embeddings);
  write_split(out.path() / "random", random, records, lines, settings);
  record_fingerprint(out.path(), fingerprint);
  out.commit();
  LADLE_LOG(info) << "dtm: " << folder.filename().string() << ": k-means sizes "
                  << nlohmann::json(kmeans.partition.sizes).dump() << ", inertia " << kmeans.partition.inertia
                  << " (random split: " << random.inertia << ")";
}

std::vector<DtmRun> DtmPipeline::runs() const {
  const std::int64_t total = config_.total_steps > 0 ? config_.total_steps : base_train_.max_steps;
  std::vector<DtmRun> planned;
  for (const std::uint64_t replicate : config_.seeds) {
    bool with_vanilla = true;  // vanilla does not depend on K: planned with the first
    for (const std::int64_t k : config_.cluster.trained_k()) {
      const clustering::Partition partition =
          clustering::read_partition(layout_.partition_dir("kmeans", replicate, config_.cluster.name_k(k)));
      for (auto& run : plan_runs(config_, layout_, partition.sizes, total, base_train_.seed, replicate, with_vanilla)) {
        run.fingerprint = fingerprints_->run(run);
        planned.push_back(std::move(run));
      }
      with_vanilla = false;
    }
  }
  return planned;
}

void DtmPipeline::train() {
  const std::vector<DtmRun> all = runs();
  // A run trained on a subset that has since been rewritten (the cluster stage ran again) starts over.
  for (const auto& run : all) {
    if (run_finished(layout_, run) && !up_to_date(layout_.run_done_file(run.name), {run.train_file})) {
      LADLE_LOG(warning) << "dtm: " << run.name << " was trained on an older " << run.train_file.string()
                         << "; training it again";
      fs::remove_all(layout_.run_dir(run.name));
    }
  }
  if (!options_.only_runs.empty() || options_.only_cluster) {
    std::set<std::string> wanted(options_.only_runs.begin(), options_.only_runs.end());
    std::string known;
    std::size_t matched = 0;
    for (const auto& run : all) {
      known += (known.empty() ? "" : ", ") + run.name;
      const bool in_cluster = options_.only_cluster && run.family != RunFamily::vanilla &&
                              run.index == *options_.only_cluster;
      if (wanted.erase(run.name) == 0 && !in_cluster) continue;
      ++matched;
      if (!train_run(config_, layout_, run, options_.run_overrides)) {
        LADLE_LOG(info) << "dtm: " << run.name << " had finished already";
      }
    }
    if (!wanted.empty()) throw Error("--only-run " + *wanted.begin() + ": no such run; the runs are " + known);
    if (matched == 0) throw Error("--only-cluster: no run has that index; the runs are " + known);
    return;
  }
  if (options_.no_train) return;  // the merge stage names the runs still missing
  std::vector<ChildCommand> commands;
  for (const auto& run : all) {
    if (!run_finished(layout_, run)) {
      commands.push_back(child_command(run.name, {"--only-run", run.name}, layout_.run_log_file(run.name)));
    }
  }
  LADLE_LOG(info) << "dtm: " << commands.size() << " of " << all.size() << " runs to train, " << options_.jobs
                  << " at once";
  run_child_processes(commands, options_.jobs);
}

fs::path DtmPipeline::merged_weights_dir(const DtmRun& run) const {
  const fs::path folder = layout_.run_dir(run.name) / config_.merge.weights;
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw Error("merge: " + folder.string() + " does not exist: run " + run.name + " wrote no " +
                config_.merge.weights + " model (merge.weights of " + config_.config_file.string() +
                "); did its averaging callback get no update?");
  }
  return folder;
}

void DtmPipeline::merge() {
  const std::vector<DtmRun> all = runs();
  std::string missing;
  for (const auto& run : all) {
    if (!run_finished(layout_, run)) missing += (missing.empty() ? "" : ", ") + run.name;
  }
  if (!missing.empty()) {
    throw Error("merge: these runs have not finished: " + missing + " (train them with `ladle dtm --config " +
                config_.config_file.string() + "`, or one by one with --only-run NAME)");
  }
  for (const std::uint64_t replicate : config_.seeds) {
    merge_interpolations(all, replicate);
    for (const std::int64_t k : config_.cluster.trained_k()) {
      std::vector<DtmRun> replicate_runs;
      for (const auto& run : all) {
        if (run.replicate == replicate && run.k == k) replicate_runs.push_back(run);
      }
      merge_replicate(replicate_runs, replicate, k);
    }
  }
}

void DtmPipeline::merge_sub_models(const std::vector<DtmRun>& members, const std::vector<std::int64_t>& cluster_sizes,
                                   const DtmMergeMethod& method, const std::string& name) {
  const bool lora = base_train_.lora.enabled;
  const fs::path out = layout_.merge_dir(name);
  // LoRA sub-models are merged in ΔW space: the method runs on each adapter's (α/r)·B·A, never on A and B apart
  // (the DTM authors' code averages A and B separately, and mean(B)·mean(A) is not the mean of the updates).
  std::vector<fs::path> models;
  std::vector<fs::path> done_files;
  std::vector<std::int64_t> sizes;
  for (const auto& run : members) {
    const fs::path weights_dir = merged_weights_dir(run);
    models.push_back(lora ? weights_dir / "adapter" : weights_dir);
    done_files.push_back(layout_.run_done_file(run.name));
    sizes.push_back(cluster_sizes.at(static_cast<std::size_t>(run.index)));  // the random split's sizes are these
  }
  const std::string merge_text = method.yaml(models, sizes, base_train_.model.path);
  // The merge is redone when a sub-model was retrained or the merge's settings changed.
  const std::string fingerprint = fingerprints_->merge(members, merge_text);
  if (up_to_date(out, done_files) && recorded_fingerprint(out) == fingerprint) {
    LADLE_LOG(info) << "dtm: merge: reusing " << out.string();
    return;
  }
  fs::remove(out / "dtm-fingerprint");
  const fs::path yaml = layout_.merge_config_file(name);
  fs::create_directories(yaml.parent_path());
  io::write_file_atomically(yaml, merge_text);
  const merge::MergeConfig merge_config = merge::load_merge_config(yaml);
  LADLE_LOG(info) << "dtm: merging " << models.size() << " sub-models with " << method.merge_method << " into "
                  << out.string();
  if (lora) {
    merge::LoraAdaptersMergeOptions lora_options;
    lora_options.full_model = base_train_.model.path;
    lora_options.overwrite = true;
    merge::merge_lora_adapters(merge_config, out, lora_options);
  } else {
    const merge::InputModels inputs(merge_config);
    const merge::MergeCheckReport check = merge::check_merge(merge_config, inputs);
    if (check.has_errors()) throw Error("merge of " + yaml.string() + " cannot run:\n" + check.text());
    merge::MergedModelWriteOptions write_options;
    write_options.overwrite = true;
    write_options.execution.device = model::resolve_device(config_.device);
    merge::write_merged_model(merge_config, merge::plan_merge(merge_config, inputs), inputs, out, write_options);
  }
  record_fingerprint(out, fingerprint);
}

void DtmPipeline::merge_interpolations(const std::vector<DtmRun>& all, std::uint64_t replicate) {
  if (config_.baselines.interpolation.empty()) return;
  const auto vanilla = std::find_if(all.begin(), all.end(), [&](const DtmRun& run) {
    return run.family == RunFamily::vanilla && run.replicate == replicate;
  });
  if (vanilla == all.end()) throw Error("merge: no vanilla run of seed " + std::to_string(replicate) + " to interpolate");
  // base + α·(vanilla − base) is task arithmetic over the base with the one task vector weighted α (LoRA: in ΔW
  // space, as every merge of the pipeline).
  for (const double alpha : config_.baselines.interpolation) {
    DtmMergeMethod method;
    method.merge_method = "task_arithmetic";
    std::ostringstream weight;
    weight << "{weight: " << alpha << "}";
    method.model_parameters = weight.str();
    const std::vector<std::int64_t> sizes(static_cast<std::size_t>(vanilla->index) + 1, 1);
    merge_sub_models({*vanilla}, sizes, method, seeded_name(interpolation_name(alpha), replicate));
  }
}

void DtmPipeline::merge_replicate(const std::vector<DtmRun>& all, std::uint64_t replicate, std::int64_t k) {
  const std::int64_t name_k = config_.cluster.name_k(k);
  auto family_runs = [&](RunFamily family) {
    std::vector<DtmRun> members;
    for (const auto& run : all) {
      if (run.family == family) members.push_back(run);
    }
    return members;
  };
  auto done_files = [&](const std::vector<DtmRun>& members) {
    std::vector<fs::path> files;
    for (const auto& run : members) files.push_back(layout_.run_done_file(run.name));
    return files;
  };

  const clustering::Partition partition =
      clustering::read_partition(layout_.partition_dir("kmeans", replicate, name_k));
  std::vector<RunFamily> splits = {RunFamily::kmeans};
  if (config_.baselines.random_split) splits.push_back(RunFamily::random);
  for (const RunFamily family : splits) {
    const auto members = family_runs(family);
    const std::string split = seeded_name(swept_name(run_family_name(family), name_k), replicate);
    merge_sub_models(members, partition.sizes, config_.merge.method, split);
    for (const auto& variant : config_.merge_variants) {
      merge_sub_models(members, partition.sizes, variant.method, variant_merge_name(variant.name, split));
    }
  }

  if (config_.baselines.uniform_soup) {
    const auto members = family_runs(RunFamily::soup);
    const fs::path out = layout_.merge_dir(seeded_name(swept_name("soup", name_k), replicate));
    const std::string fingerprint = fingerprints_->merge(members, "");
    if (up_to_date(out, done_files(members)) && recorded_fingerprint(out) == fingerprint) {
      LADLE_LOG(info) << "dtm: merge: reusing " << out.string();
      return;
    }
    fs::remove(out / "dtm-fingerprint");
    std::vector<fs::path> folders;
    for (const auto& run : members) folders.push_back(merged_weights_dir(run));
    io::CheckpointWriteOptions write_options;
    write_options.overwrite = true;
    callbacks::uniform_soup(folders, out, write_options);
    record_fingerprint(out, fingerprint);
  }
}

std::vector<DtmPipeline::EvaluatedModel> DtmPipeline::evaluated_models() const {
  const std::vector<DtmRun> all = runs();
  std::vector<EvaluatedModel> models = {{"base", "base", "base", 0, base_train_.model.path, base_train_.model.path,
                                         {}, fingerprints_->base_model()}};
  for (const std::uint64_t replicate : config_.seeds) {
    auto members = [&](RunFamily family) {
      std::vector<DtmRun> found;
      for (const auto& run : all) {
        if (run.family == family && run.replicate == replicate) found.push_back(run);
      }
      return found;
    };
    if (config_.baselines.vanilla) {
      const auto vanilla = members(RunFamily::vanilla);
      const std::string run = vanilla.front().name;
      models.push_back({run, "vanilla", "vanilla", replicate, layout_.run_dir(run) / "final",
                        layout_.run_done_file(run), vanilla, vanilla.front().fingerprint});
      for (const double alpha : config_.baselines.interpolation) {
        const std::string row = interpolation_name(alpha);
        const fs::path folder = layout_.merge_dir(seeded_name(row, replicate));
        std::ostringstream title;
        title << "WiSE-FT of vanilla (α=" << alpha << ")";
        models.push_back({seeded_name(row, replicate), row, title.str(), replicate, folder, folder, vanilla,
                          recorded_fingerprint(folder)});
      }
    }
    for (const std::int64_t k : config_.cluster.trained_k()) {
      // In a K sweep every K's rows and folders carry it ("dtm-kmeans-k4", "DTM (k-means, K=4)").
      const std::int64_t name_k = config_.cluster.name_k(k);
      const std::string k_title = name_k == 0 ? "" : "K=" + std::to_string(k);
      const auto with_k = [&](const std::string& title) { return k_title.empty() ? title : title + " (" + k_title + ")"; };
      const auto members_at_k = [&](RunFamily family) {
        std::vector<DtmRun> found;
        for (const auto& run : members(family)) {
          if (run.k == k) found.push_back(run);
        }
        return found;
      };
      // A merge's fingerprint as merge() recorded it (a missing merge folder records none, and is evaluated never).
      auto merged = [&](const std::string& row, const std::string& title, const std::string& merge_name,
                        RunFamily family) {
        const fs::path folder = layout_.merge_dir(merge_name);
        models.push_back({seeded_name(row, replicate), row, title, replicate, folder, folder, members_at_k(family),
                          recorded_fingerprint(folder), k});
      };
      // Each split's DTM merge, then its merge variants' ("dtm-kmeans/<variant>").
      auto split_merges = [&](const std::string& method, const std::string& split_title, RunFamily family) {
        const std::string split = seeded_name(swept_name(run_family_name(family), name_k), replicate);
        const std::string row = swept_name(method, name_k);
        const std::string title = "DTM (" + split_title + (k_title.empty() ? "" : ", " + k_title);
        merged(row, title + ")", split, family);
        for (const auto& variant : config_.merge_variants) {
          merged(row + "/" + variant.name, title + ", " + variant.name + ")", variant_merge_name(variant.name, split),
                 family);
        }
      };
      split_merges("dtm-kmeans", "k-means", RunFamily::kmeans);
      if (config_.baselines.random_split) split_merges("dtm-random", "random", RunFamily::random);
      if (config_.baselines.uniform_soup) {
        merged(swept_name("soup", name_k), with_k("uniform soup"),
               seeded_name(swept_name(run_family_name(RunFamily::soup), name_k), replicate), RunFamily::soup);
      }
      if (config_.baselines.ensemble) {
        // Made from the k-means sub-models (their merge folder is rewritten whenever one of them is retrained).
        const auto sub_models = members_at_k(RunFamily::kmeans);
        const fs::path folder =
            layout_.merge_dir(seeded_name(swept_name(run_family_name(RunFamily::kmeans), name_k), replicate));
        const std::string row = swept_name("ensemble", name_k);
        models.push_back({seeded_name(row, replicate), row, with_k("c-BTM ensemble"), replicate, folder, folder,
                          sub_models, fingerprints_->ensemble(sub_models, k, replicate), k});
      }
    }
  }
  for (auto& model : models) model.fingerprint = fingerprints_->evaluation(model.fingerprint);
  return models;
}

void DtmPipeline::evaluate() {
  std::vector<EvaluatedModel> models = evaluated_models();
  if (!options_.only_models.empty()) {
    std::string known;
    for (const auto& model : models) known += (known.empty() ? "" : ", ") + model.name;
    for (const auto& name : options_.only_models) {
      const auto found = std::find_if(models.begin(), models.end(), [&](const auto& m) { return m.name == name; });
      if (found == models.end()) throw Error("--only-evaluate " + name + ": no such model; the models are " + known);
    }
    models.erase(std::remove_if(models.begin(), models.end(),
                                [&](const EvaluatedModel& model) {
                                  return std::find(options_.only_models.begin(), options_.only_models.end(),
                                                   model.name) == options_.only_models.end();
                                }),
                 models.end());
  }
  std::vector<const EvaluatedModel*> stale;
  for (const auto& model : models) {
    const fs::path file = layout_.evaluation_file(model.name);
    if (!up_to_date(file, {model.made_from}) || evaluation_fingerprint(file) != model.fingerprint) {
      stale.push_back(&model);
    }
  }
  // Each model's evaluation is independent: with --jobs, child processes evaluate them side by side (one thread
  // each on 2 cores is faster than two threads per model for a small model, and never waits on a busy core).
  if (options_.only_models.empty() && options_.jobs > 1 && stale.size() > 1) {
    std::vector<ChildCommand> commands;
    for (const EvaluatedModel* model : stale) {
      commands.push_back(child_command(model->name, {"--only-evaluate", model->name},
                                       layout_.root / "evaluate" / (model->name + ".log")));
    }
    LADLE_LOG(info) << "dtm: " << commands.size() << " models to evaluate, " << options_.jobs << " at once";
    run_child_processes(commands, options_.jobs);
    return;
  }
  // Every batch allocates and frees the same logits and activations: keep them instead of faulting them in again
  // (lib/util/malloc_tuning.h; the c-BTM ensemble's evaluation spent 36% of its samples in page faults).
  retain_freed_memory();
  std::unique_ptr<trainer::HeldOutEvaluator> evaluator;  // read and tokenized once, when first needed
  for (const EvaluatedModel* model : stale) {
    const auto start = std::chrono::steady_clock::now();
    std::shared_ptr<model::CausalLm> lm = model->method == "ensemble"
                                              ? ensemble_model(*model)
                                              : model::load_causal_lm(model->path, model::resolve_device(config_.device));
    if (!evaluator) {
      // Every model has the base model's architecture, so its context length.
      trainer::HeldOutEvaluationOptions options = config_.evaluation.options;
      options.chat_format = trainer::heldout_chat_format(base_train_);  // as the runs rendered their data
      evaluator = std::make_unique<trainer::HeldOutEvaluator>(
          trainer::load_tokenizer(base_train_), config_.evaluation.scored_sets(lm->config().max_position_embeddings),
          options);
    }
    LADLE_LOG(info) << "dtm: evaluating " << model->name << " (" << model->path.string() << ")";
    std::map<std::string, trainer::ExampleScores> examples;
    const trainer::Metrics metrics = evaluator->evaluate(*lm, nullptr, &examples);
    nlohmann::json runs = nlohmann::json::array();
    for (const auto& run : model->runs) runs.push_back(run.name);
    const nlohmann::json json = {{"name", model->name},
                                 {"method", model->method},
                                 {"title", model->title},
                                 {"seed", model->replicate},
                                 {"path", model->path.string()},
                                 {"runs", runs},
                                 {"fingerprint", model->fingerprint},
                                 {"seconds", seconds_since(start)},
                                 {"metrics", metrics},
                                 {"examples", examples}};
    const fs::path file = layout_.evaluation_file(model->name);
    fs::create_directories(file.parent_path());
    io::write_file_atomically(file, json.dump(2) + "\n");
  }
}

std::shared_ptr<model::CausalLm> DtmPipeline::ensemble_model(const EvaluatedModel& model) const {
  const at::Device device = model::resolve_device(config_.device);
  DtmEnsembleInputs inputs;
  const clustering::Partition partition =
      clustering::read_partition(layout_.partition_dir("kmeans", model.replicate, config_.cluster.name_k(model.k)));
  inputs.centroids = clustering::FloatMatrix(static_cast<std::int64_t>(model.runs.size()), partition.centroids.cols);
  for (std::size_t j = 0; j < model.runs.size(); ++j) {
    // An empty cluster has no sub-model: the centres kept are those of the runs.
    const float* centre = partition.centroids.row(model.runs[j].index);
    std::copy(centre, centre + partition.centroids.cols, inputs.centroids.row(static_cast<std::int64_t>(j)));
    inputs.experts.push_back(model::load_causal_lm(layout_.run_dir(model.runs[j].name) / "final", device));
  }
  if (config_.embed.embedder_kind == DtmEmbedder::tfidf) {
    inputs.tfidf = std::make_shared<const clustering::TfidfEmbedder>(clustering::TfidfEmbedder::load(layout_.embed_dir()));
  } else {
    inputs.base = model::load_causal_lm(base_train_.model.path, device);
    inputs.base->eval();
  }
  inputs.tokenizer = trainer::load_tokenizer(base_train_);
  inputs.chat_format = trainer::heldout_chat_format(base_train_);  // as the evaluator renders the sets
  inputs.embedder = config_.embed.embedder;
  inputs.bf16 = config_.embed.bf16;
  inputs.posterior = config_.ensemble;
  for (const auto& set : config_.evaluation.sets()) {
    auto records = text::read_instruction_jsonl(set.path).records;
    inputs.records.insert(inputs.records.end(), records.begin(), records.end());
  }
  return make_dtm_ensemble(std::move(inputs));
}

ChildCommand DtmPipeline::child_command(const std::string& label, const std::vector<std::string>& arguments,
                                        const fs::path& log) const {
  ChildCommand command{label, {options_.executable.string()}, log};
  command.argv.insert(command.argv.end(), options_.global_args.begin(), options_.global_args.end());
  command.argv.insert(command.argv.end(), {"dtm", "--config", config_.config_file.string()});
  for (const auto& assignment : config_.overrides) command.argv.insert(command.argv.end(), {"--set", assignment});
  command.argv.insert(command.argv.end(), arguments.begin(), arguments.end());
  return command;
}

void DtmPipeline::report() {
  std::vector<ModelScores> models;
  for (const auto& model : evaluated_models()) {
    // Only evaluations of the current config (an evaluation left from other settings is not reported).
    const fs::path file = layout_.evaluation_file(model.name);
    if (evaluation_fingerprint(file) != model.fingerprint) continue;
    std::ifstream in(file);
    const nlohmann::json json = nlohmann::json::parse(in);
    ModelScores scores{model.name, json.at("title").get<std::string>(), json.at("metrics").get<trainer::Metrics>(), {},
                       model.method, model.replicate,
                       json.at("examples").get<std::map<std::string, trainer::ExampleScores>>()};
    for (const auto& run : json.at("runs")) {
      scores.runs.push_back(layout_.run_dir(run.get<std::string>()) / "metrics.jsonl");
    }
    models.push_back(std::move(scores));
  }
  std::vector<std::string> sets;
  for (const auto& set : config_.evaluation.sets()) sets.push_back(set.label);

  nlohmann::json steps = nlohmann::json::object();
  for (const auto& run : runs()) steps[run.name] = run.steps;
  const std::int64_t first_k = config_.cluster.trained_k().front();
  const clustering::Partition partition = clustering::read_partition(
      layout_.partition_dir("kmeans", config_.seeds.front(), config_.cluster.name_k(first_k)));
  const nlohmann::json settings = {{"config", config_.config_file.string()},
                                   {"seeds", config_.seeds},
                                   {"base_model", base_train_.model.path.string()},
                                   {"lora", base_train_.lora.enabled},
                                   {"k", dtm_config_schema().to_json(config_).at("cluster").at("k")},
                                   {"cluster_sizes", partition.sizes},  // of the first seed's (and K's) k-means
                                   {"merge_method", config_.merge.method.merge_method},
                                   {"merge_variants", dtm_config_schema().to_json(config_).at("merge_variants")},
                                   {"merge_weights", config_.merge.weights},
                                   {"steps", steps}};
  io::AtomicDirectory out(layout_.report_dir(), /*overwrite=*/true);
  report_text_ = write_dtm_report(models, sets, settings, out.path());
  out.commit();
}

}  // namespace ladle::dtm
