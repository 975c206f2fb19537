// The clustering benchmark's measurements (bench/clustering/run_benchmark.sh builds and runs this):
//   kmeans: faiss k-means on random vectors (DTM's data size by default), ladle's kmeans_partition against raw
//           faiss::Clustering on the same data with the same parameters, medians of --repeat runs;
//   embed:  the embedder's records/s and tokens/s against the model's plain forward on the same batches.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/utils/random.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "clustering/embedder.h"
#include "clustering/kmeans.h"
#include "lib/model/causal_lm.h"
#include "lib/model/causal_lm_factory.h"
#include "lib/text/instruction_record.h"
#include "lib/log/log.h"
#include "lib/text/sentencepiece_tokenizer.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"
#include "lib/util/threads.h"
#include "trainer/bf16_autocast.h"

namespace {

using namespace ladle;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// CPU time of the whole process (every thread): on a machine others share it shows the work done, which wall time
// does not (with one thread it is the work; with more, OpenMP's spin-waiting adds to it).
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Wall and CPU seconds of one call.
struct Measured {
  double wall = 0.0;
  double cpu = 0.0;
};

template <typename Work>
Measured measure(const Work& work) {
  const auto start = Clock::now();
  const double cpu_start = process_cpu_seconds();
  work();
  return {seconds_since(start), process_cpu_seconds() - cpu_start};
}

// Best and median of repeated timings: on a shared machine the best is the cost of the work itself, the median
// shows how much others' load added.
struct Timing {
  double best = 0.0;
  double median = 0.0;
};

Timing timing(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return {values.front(), values[values.size() / 2]};
}

struct KMeansBenchOptions {
  std::int64_t points = 326154;  // DTM's Tulu v2 mixture size
  std::int64_t dimension = 768;
  clustering::KMeansOptions kmeans;
  int repeat = 3;
};

// faiss::Clustering as a user of faiss would call it: all points used, an IndexFlatL2, optionally followed by the
// nearest-centroid search that assigns every point to a final centroid (which kmeans_partition also does).
std::vector<float> raw_faiss(const clustering::FloatMatrix& points, const clustering::KMeansOptions& options,
                             bool assign) {
  faiss::ClusteringParameters parameters;
  parameters.niter = options.iterations;
  parameters.nredo = options.nredo;
  parameters.seed = options.seed;
  parameters.min_points_per_centroid = 0;
  parameters.max_points_per_centroid = static_cast<int>(points.rows);
  faiss::Clustering clustering(static_cast<int>(points.cols), static_cast<int>(options.k), parameters);
  faiss::IndexFlatL2 index(points.cols);
  clustering.train(points.rows, points.values.data(), index);
  if (assign) {
    std::vector<float> distances(static_cast<std::size_t>(points.rows));
    std::vector<faiss::Index::idx_t> labels(static_cast<std::size_t>(points.rows));
    index.search(points.rows, points.values.data(), 1, distances.data(), labels.data());
  }
  return clustering.centroids;
}

void print_row(const char* what, const std::vector<Measured>& runs, const std::vector<Measured>& ladle) {
  std::vector<double> wall, cpu, ladle_wall, ladle_cpu;
  for (const auto& run : runs) wall.push_back(run.wall), cpu.push_back(run.cpu);
  for (const auto& run : ladle) ladle_wall.push_back(run.wall), ladle_cpu.push_back(run.cpu);
  const Timing w = timing(wall), c = timing(cpu), lw = timing(ladle_wall), lc = timing(ladle_cpu);
  std::printf("| %s | %.2f s | %.2f s | %.2f s | %.3f | %.3f |\n", what, w.best, w.median, c.best, lw.best / w.best,
              lc.best / c.best);
}

void run_kmeans(const KMeansBenchOptions& options) {
  std::cout << "k-means: " << options.points << " x " << options.dimension
            << " N(0, 1) float32 vectors, k=" << options.kmeans.k << ", " << options.kmeans.iterations
            << " iterations, nredo " << options.kmeans.nredo << ", " << at::get_num_threads()
            << " threads, best and median of " << options.repeat << " (the three calls interleaved)\n";
  clustering::FloatMatrix points(options.points, options.dimension);
  faiss::float_randn(points.values.data(), points.values.size(), 12345);

  std::vector<Measured> train, train_assign, ladle_call;
  std::vector<float> raw_centroids, ladle_centroids;
  for (int r = 0; r < options.repeat; ++r) {
    train.push_back(measure([&] { raw_centroids = raw_faiss(points, options.kmeans, false); }));
    train_assign.push_back(measure([&] { raw_centroids = raw_faiss(points, options.kmeans, true); }));
    ladle_call.push_back(measure(
        [&] { ladle_centroids = clustering::kmeans_partition(points, options.kmeans).partition.centroids.values; }));
  }
  std::printf(
      "| call | wall, best | wall, median | CPU, best | ladle / this, wall | ladle / this, CPU |\n"
      "|---|---:|---:|---:|---:|---:|\n");
  print_row("raw faiss Clustering::train", train, ladle_call);
  print_row("raw faiss train + nearest-centroid search", train_assign, ladle_call);
  print_row("ladle kmeans_partition", ladle_call, ladle_call);
  std::printf("same centroids as raw faiss: %s\n", raw_centroids == ladle_centroids ? "yes (bitwise)" : "NO");
}

struct EmbedBenchOptions {
  std::string model;       // a Hugging Face folder; empty: a random Llama of the sizes below
  std::string tokenizer;   // sentencepiece model
  std::string data;        // instruction JSONL
  std::int64_t limit = 0;  // records used (0 = all)
  std::int64_t hidden = 256, layers = 4, heads = 4, intermediate = 688;
  clustering::EmbedderOptions embedder;
  bool bf16 = false;  // every pass under CPU bf16 autocast (trainer::Bf16Autocast)
  int repeat = 3;
};

std::shared_ptr<model::CausalLm> benchmark_model(const EmbedBenchOptions& options, std::int64_t vocab) {
  if (!options.model.empty()) return model::load_causal_lm(options.model);
  const auto config = model::CausalLmConfig::from_json({{"architectures", {"LlamaForCausalLM"}},
                                                        {"vocab_size", vocab},
                                                        {"hidden_size", options.hidden},
                                                        {"intermediate_size", options.intermediate},
                                                        {"num_hidden_layers", options.layers},
                                                        {"num_attention_heads", options.heads},
                                                        {"max_position_embeddings", 2048}});
  return model::create_causal_lm(config, 1);
}

// The model's forward alone over the batches the embedder forms (longest first, batch_size each, right-padded).
void plain_forward(model::CausalLm& model, const std::vector<std::vector<std::int64_t>>& sequences,
                   std::int64_t batch_size, std::int64_t pad_id) {
  std::vector<std::size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sequences[a].size() > sequences[b].size(); });
  at::NoGradGuard no_grad;
  for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(batch_size));
    const auto rows = static_cast<std::int64_t>(end - begin);
    const auto width = static_cast<std::int64_t>(sequences[order[begin]].size());
    at::Tensor ids = at::full({rows, width}, pad_id, at::kLong);
    at::Tensor mask = at::zeros({rows, width}, at::kLong);
    for (std::int64_t r = 0; r < rows; ++r) {
      const auto& sequence = sequences[order[begin + static_cast<std::size_t>(r)]];
      std::memcpy(ids[r].data_ptr<std::int64_t>(), sequence.data(), sequence.size() * sizeof(std::int64_t));
      mask[r].narrow(0, 0, static_cast<std::int64_t>(sequence.size())).fill_(1);
    }
    model::ForwardOptions forward;
    forward.attention_mask = mask;
    model.forward(ids, forward);
  }
}

void run_embed(const EmbedBenchOptions& options) {
  auto records = text::read_instruction_jsonl(options.data).records;
  if (options.limit > 0 && static_cast<std::size_t>(options.limit) < records.size()) {
    records.resize(static_cast<std::size_t>(options.limit));
  }
  auto tokenizer = std::make_shared<text::SentencePieceTokenizer>(options.tokenizer);
  auto model = benchmark_model(options, tokenizer->vocab_size());
  const clustering::Embedder embedder(model, tokenizer, options.embedder);
  std::vector<std::vector<std::int64_t>> sequences;
  std::int64_t tokens = 0;
  for (const auto& record : records) {
    sequences.push_back(embedder.tokens(record));
    tokens += static_cast<std::int64_t>(sequences.back().size());
  }
  std::int64_t parameters = 0;
  for (const auto& parameter : model->parameters()) parameters += parameter.numel();
  std::cout << "embedding: " << records.size() << " records (" << tokens << " tokens, "
            << clustering::embed_text_name(options.embedder.text) << ") of " << options.data << "; model "
            << (options.model.empty() ? "random Llama" : options.model) << " with " << parameters
            << " parameters, batch " << options.embedder.batch_size << ", " << at::get_num_threads() << " threads, "
            << (options.bf16 ? "bf16 autocast" : "fp32") << ", best and median of " << options.repeat << "\n";

  const std::int64_t pad_id = tokenizer->pad_id().value_or(0);
  const trainer::Bf16Autocast autocast(options.bf16, model->device());
  const std::vector<std::vector<std::int64_t>> warm_up(sequences.begin(),
                                                       sequences.begin() + std::min<std::size_t>(64, sequences.size()));
  plain_forward(*model, warm_up, options.embedder.batch_size, pad_id);
  std::vector<double> forward, forward_cpu, embed_tokens, embed_tokens_cpu, embed_records, embed_records_cpu;
  for (int r = 0; r < options.repeat; ++r) {
    auto time = measure([&] { plain_forward(*model, sequences, options.embedder.batch_size, pad_id); });
    forward.push_back(time.wall), forward_cpu.push_back(time.cpu);
    time = measure([&] { embedder.embed_tokens(sequences); });
    embed_tokens.push_back(time.wall), embed_tokens_cpu.push_back(time.cpu);
    time = measure([&] { embedder.embed(records); });
    embed_records.push_back(time.wall), embed_records_cpu.push_back(time.cpu);
  }
  const Timing plain = timing(forward), plain_cpu = timing(forward_cpu);
  const auto row = [&](const char* what, const std::vector<double>& wall, const std::vector<double>& cpu) {
    const Timing time = timing(wall), cpu_time = timing(cpu);
    std::printf("| %s | %.2f s | %.2f s | %.0f | %.0f | %.3f | %.3f |\n", what, time.best, time.median,
                static_cast<double>(records.size()) / time.best, static_cast<double>(tokens) / time.best,
                time.best / plain.best, cpu_time.best / plain_cpu.best);
  };
  std::printf(
      "| pass | wall, best | wall, median | records/s (best) | tokens/s (best) | / forward, wall | / forward, CPU |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n");
  row("plain forward, same batches", forward, forward_cpu);
  row("Embedder::embed_tokens (forward with hidden states, pooling, normalising)", embed_tokens, embed_tokens_cpu);
  row("Embedder::embed (the above plus tokenization)", embed_records, embed_records_cpu);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ladle clustering benchmark"};
  app.require_subcommand(1);
  KMeansBenchOptions kmeans;
  auto* kmeans_command = app.add_subcommand("kmeans", "faiss k-means: ladle's call against raw faiss");
  kmeans_command->add_option("--points", kmeans.points)->capture_default_str();
  kmeans_command->add_option("--dimension", kmeans.dimension)->capture_default_str();
  kmeans_command->add_option("--k", kmeans.kmeans.k)->capture_default_str();
  kmeans_command->add_option("--iterations", kmeans.kmeans.iterations)->capture_default_str();
  kmeans_command->add_option("--nredo", kmeans.kmeans.nredo)->capture_default_str();
  kmeans_command->add_option("--repeat", kmeans.repeat)->capture_default_str();
  EmbedBenchOptions embed;
  auto* embed_command = app.add_subcommand("embed", "Embedder throughput against the model's plain forward");
  embed_command->add_option("--model", embed.model, "Hugging Face folder (default: a random Llama)");
  embed_command->add_option("--tokenizer", embed.tokenizer)->required();
  embed_command->add_option("--data", embed.data)->required();
  embed_command->add_option("--limit", embed.limit, "Records used (0 = all)")->capture_default_str();
  embed_command->add_option("--hidden", embed.hidden)->capture_default_str();
  embed_command->add_option("--layers", embed.layers)->capture_default_str();
  embed_command->add_option("--heads", embed.heads)->capture_default_str();
  embed_command->add_option("--intermediate", embed.intermediate)->capture_default_str();
  embed_command->add_option("--batch-size", embed.embedder.batch_size)->capture_default_str();
  embed_command->add_option("--max-length", embed.embedder.max_length)->capture_default_str();
  embed_command->add_option("--repeat", embed.repeat)->capture_default_str();
  embed_command->add_flag("--bf16", embed.bf16, "Run every pass under CPU bf16 autocast");
  std::string text = "response";
  embed_command->add_option("--embed", text)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  ladle::configure_threads(0);
  ladle::ProgressLine::set_quiet(true);
  ladle::log::LoggingOptions logging;
  logging.console_level = ladle::log::Level::warning;
  ladle::log::configure_logging(logging);
  try {
    if (kmeans_command->parsed()) run_kmeans(kmeans);
    if (embed_command->parsed()) {
      const auto parsed = clustering::parse_embed_text(text);
      if (!parsed) throw Error("--embed must be instruction, response or both");
      embed.embedder.text = *parsed;
      run_embed(embed);
    }
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
