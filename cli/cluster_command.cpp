// `ladle cluster`: embed instruction records with a model's hidden states, partition them with faiss k-means (or
// at random, with the k-means cluster sizes) and write the partition and its report.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "clustering/embedder.h"
#include "clustering/kmeans.h"
#include "clustering/npy.h"
#include "clustering/partition.h"
#include "clustering/partition_report.h"
#include "lib/io/atomic_file.h"
#include "lib/log/log.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/model/device.h"
#include "lib/text/instruction_record.h"
#include "lib/io/model_folder.h"
#include "lib/text/open_tokenizer.h"
#include "lib/util/error.h"
#include "trainer/bf16_autocast.h"
#include "cli/commands.h"
#include "cli/device_option.h"

namespace ladle::cli {
namespace {

namespace fs = std::filesystem;

struct ClusterOptions {
  std::string model;       // base model folder (or .safetensors file with config.json beside it)
  std::string tokenizer;   // a tokenizer folder or file (text::open_tokenizer); default: the model's folder
  std::string data;        // instruction JSONL
  std::string out;         // output folder
  std::string embeddings;  // reuse these embeddings instead of embedding with the model
  std::string embed = "response";
  std::string pooling = "mean";
  clustering::EmbedderOptions embedder;
  clustering::KMeansOptions kmeans;
  bool bf16 = false;  // embed under bf16 autocast
  std::string device = "cpu";  // where the embedding model runs
  bool random_split = false;
  bool overwrite = false;
  std::int64_t examples = 3;
};

clustering::FloatMatrix compute_embeddings(const ClusterOptions& options,
                                           const std::vector<text::InstructionRecord>& records) {
  const fs::path tokenizer_path =
      options.tokenizer.empty() ? io::model_folder_of(options.model) : fs::path(options.tokenizer);
  if (!text::find_tokenizer(tokenizer_path)) {
    throw Error("'" + tokenizer_path.string() +
                "' holds no tokenizer (tokenizer.json, vocab.json + merges.txt or tokenizer.model; give --tokenizer)");
  }
  auto tokenizer = text::open_tokenizer(tokenizer_path);
  auto model = model::load_causal_lm(options.model, model::resolve_device(options.device, "--device"));
  clustering::EmbedderOptions embedder_options = options.embedder;
  embedder_options.text = *clustering::parse_embed_text(options.embed);
  embedder_options.pooling = *clustering::parse_pooling(options.pooling);
  LADLE_LOG(info) << "embedding the " << options.embed << " of " << records.size() << " records with " << options.model
                  << " (" << options.pooling << " pooling, layer " << embedder_options.layer << ")";
  const trainer::Bf16Autocast autocast(options.bf16, model->device());
  return clustering::Embedder(model, tokenizer, embedder_options).embed(records);
}

clustering::FloatMatrix reuse_embeddings(const ClusterOptions& options, std::size_t record_count) {
  clustering::FloatMatrix embeddings = clustering::read_npy(options.embeddings);
  if (static_cast<std::size_t>(embeddings.rows) != record_count) {
    throw Error(options.embeddings + " holds " + std::to_string(embeddings.rows) + " embeddings but " + options.data +
                " has " + std::to_string(record_count) + " records");
  }
  LADLE_LOG(info) << "reusing " << embeddings.rows << " embeddings of dimension " << embeddings.cols << " from "
                  << options.embeddings;
  return embeddings;
}

nlohmann::json settings_of(const ClusterOptions& options, const clustering::KMeansResult& kmeans) {
  nlohmann::json settings = {{"data", options.data}};
  if (options.embeddings.empty()) {
    settings["model"] = options.model;
    settings["embed"] = options.embed;
    settings["pooling"] = options.pooling;
    settings["layer"] = options.embedder.layer;
    settings["max_length"] = options.embedder.max_length;
    settings["bf16"] = options.bf16;
  } else {
    settings["embeddings"] = options.embeddings;
  }
  settings["k"] = options.kmeans.k;
  settings["iterations"] = options.kmeans.iterations;
  settings["nredo"] = options.kmeans.nredo;
  settings["seed"] = options.kmeans.seed;
  settings["spherical"] = options.kmeans.spherical;
  settings["kmeans_seconds"] = kmeans.seconds;
  if (options.random_split) settings["kmeans_inertia"] = kmeans.partition.inertia;
  return settings;
}

void run_cluster(const ClusterOptions& options) {
  if (!clustering::parse_embed_text(options.embed)) {
    throw Error("--embed must be instruction, response or both, got '" + options.embed + "'");
  }
  if (!clustering::parse_pooling(options.pooling)) {
    throw Error("--pooling must be mean or last, got '" + options.pooling + "'");
  }
  if (options.model.empty() && options.embeddings.empty()) throw Error("give --model, or --embeddings to reuse");
  std::error_code error;
  // Before the tokenizer is looked for in it, which would report a missing model as a missing tokenizer.
  if (!options.model.empty() && !fs::exists(options.model, error)) {
    throw Error("--model: '" + options.model + "' does not exist (a Hugging Face model folder)");
  }
  const auto records = text::read_instruction_jsonl(options.data).records;
  if (options.kmeans.k > static_cast<std::int64_t>(records.size())) {
    throw Error("cannot make " + std::to_string(options.kmeans.k) + " clusters from the " +
                std::to_string(records.size()) + " records of " + options.data + ": --k must not exceed them");
  }
  io::AtomicDirectory out(options.out, options.overwrite);

  clustering::FloatMatrix embeddings;
  if (options.embeddings.empty()) {
    embeddings = compute_embeddings(options, records);
    clustering::write_npy(out.path() / "embeddings.npy", embeddings);
  } else {
    embeddings = reuse_embeddings(options, records.size());
  }

  LADLE_LOG(info) << "k-means: " << embeddings.rows << " points of dimension " << embeddings.cols << " into "
                  << options.kmeans.k << " clusters, " << options.kmeans.iterations << " iterations x "
                  << options.kmeans.nredo << " runs";
  const clustering::KMeansResult kmeans = clustering::kmeans_partition(embeddings, options.kmeans);
  LADLE_LOG(info) << "k-means done in " << kmeans.seconds << " s" << (kmeans.used_gpu ? " on the GPU" : "")
                  << ", inertia " << kmeans.partition.inertia;
  clustering::Partition partition = kmeans.partition;
  if (options.random_split) {
    partition = clustering::random_partition(kmeans.partition.sizes, static_cast<std::uint64_t>(options.kmeans.seed));
    clustering::set_mean_centroids(partition, embeddings);
  }

  std::vector<std::string> tasks;
  for (const auto& record : records) tasks.push_back(record.task);
  clustering::write_partition(out.path(), partition, tasks);
  clustering::ReportOptions report_options;
  report_options.nearest_examples = options.examples;
  const auto report = clustering::partition_report(partition, records, settings_of(options, kmeans), report_options);
  clustering::write_report(out.path(), report);
  out.commit();

  std::cout << (options.random_split ? "random split" : "k-means") << " of " << records.size() << " records into "
            << partition.k << " clusters, sizes " << nlohmann::json(partition.sizes).dump();
  if (!report.at("labels").is_null()) {
    std::cout << "; purity " << report["labels"]["purity"].get<double>() << ", NMI "
              << report["labels"]["nmi"].get<double>();
  }
  std::cout << "\nwrote " << options.out << "\n";
}

}  // namespace

void add_cluster_command(CLI::App& app) {
  auto options = std::make_shared<ClusterOptions>();
  auto* command = app.add_subcommand(
      "cluster", "Embed instruction records with a model and partition them with k-means (DTM's first stage)");
  auto* model = command->add_option("--model", options->model, "Base model: a Hugging Face folder");
  command->add_option("--tokenizer", options->tokenizer,
                      "tokenizer folder or file: tokenizer.json, vocab.json + merges.txt or tokenizer.model "
                      "(default: the model's folder)");
  command->add_option("--data", options->data, "Instruction records (JSON Lines)")->required();
  command->add_option("--k", options->kmeans.k, "Number of clusters")->capture_default_str();
  command->add_option("--out", options->out, "Output folder (assignments, centroids, sizes, report)")->required();
  command->add_option("--embed", options->embed, "Text embedded: instruction, response or both")->capture_default_str();
  command->add_option("--pooling", options->pooling, "Hidden states pooled: mean or last (token)")
      ->capture_default_str();
  command->add_option("--layer", options->embedder.layer, "Hidden state used (0 = embeddings, -1 = last layer)")
      ->capture_default_str();
  command->add_option("--batch-size", options->embedder.batch_size, "Sequences per forward pass")
      ->capture_default_str();
  command->add_option("--max-length", options->embedder.max_length, "Tokens per sequence (bos included)")
      ->capture_default_str();
  command->add_flag("--bf16", options->bf16, "Embed under bf16 autocast (faster on CPUs with AVX512_BF16)");
  add_device_option(*command, options->device, "Where the embedding model runs");
  command->add_option("--iterations", options->kmeans.iterations, "k-means iterations per run")->capture_default_str();
  command->add_option("--nredo", options->kmeans.nredo, "k-means runs; the best is kept")->capture_default_str();
  command->add_option("--seed", options->kmeans.seed, "Seed of k-means and of the random split")->capture_default_str();
  command->add_flag("--spherical", options->kmeans.spherical, "Unit-length centroids, assignment by inner product");
  command
      ->add_option("--max-points-per-centroid", options->kmeans.max_points_per_centroid,
                   "Train on a sample of k times this many points (0 = all)")
      ->capture_default_str();
  command->add_option("--embeddings", options->embeddings, "Reuse embeddings (.npy, one row per record)")
      ->excludes(model);
  command->add_flag("--random-split", options->random_split,
                    "Write a random split with the k-means cluster sizes instead (the DTM baseline)");
  command->add_option("--examples", options->examples, "Records listed per cluster in the report")
      ->capture_default_str();
  command->add_flag("--overwrite", options->overwrite, "Replace the output folder if it exists");
  command->callback([options] { run_cluster(*options); });
}

}  // namespace ladle::cli
