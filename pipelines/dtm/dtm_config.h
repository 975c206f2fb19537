// DtmConfig: a Disperse-Then-Merge experiment (Fu et al., "Disperse-Then-Merge: Pushing the Limits of
// Instruction Tuning via Alignment Tax Reduction", Findings of ACL 2024) as one YAML file, `ladle dtm --config`:
//
//   output_dir: ../out/dtm            # every stage writes under it (embed/, cluster/, runs/, merge/, ...)
//   train: ../examples/train-tiny.yml # the base training config: a train YAML's path, or the mapping inline
//   train_overrides: {evaluation.every_steps: 20}   # dotted keys applied to it, as `ladle train --set`
//   total_steps: 0                    # optimizer steps of the K sub-models together (0: the train config's max_steps)
//   records: 0                        # a seeded random subset of the training records (0: all of data.train)
//   device: cpu                       # where every stage runs, training included (lib/config/device_value.h)
//   seeds: [0]                        # replicates: every method once per seed, the report with intervals over them
//   embed:    {embedder: hidden_states, text: response, pooling: mean, layer: -1, batch_size: 32, max_length: 256,
//              bf16: true, dimensions: 100}   (embedder: tfidf is c-BTM's TF-IDF + truncated SVD to dimensions)
//   cluster:  {k: 4, iterations: 20, nredo: 1, seed: 1234, spherical: false, max_points_per_centroid: 0}
//             (k: [1, 2, 4, 8] sweeps K: a report row and plot point per K, K = 1 being vanilla)
//   merge:    {merge_method: linear, parameters: {}, model_parameters: {}, dtype: float32, size_weighted: false,
//              weights: final}
//   merge_variants:                   # more merges of the same sub-models, each a row of its own (default: none)
//     - {name: mix-ratio, merge_method: linear, size_weighted: true}
//     - {name: ties, merge_method: ties, parameters: {lambda: 1}, model_parameters: {weight: 0.5, density: 0.5}}
//   evaluation: {valid: valid.jsonl, test: test.jsonl, shifted: shifted.jsonl, knowledge: corpus.txt,
//                max_examples: 256, generation_examples: 64, batch_size: 16, bf16: true, seed: 0}
//   baselines: {vanilla: true, random_split: true, uniform_soup: true, ensemble: false}
//   ensemble: {temperature: 0.1, top_k: 0}   # the c-BTM ensemble's cluster posterior
//
// Where the defaults differ from the DTM authors' setup (and do not claim to follow it): they embed responses with a
// separate sentence encoder, ladle with the base model's hidden states (embed:); they run 1,500 k-means iterations,
// ladle 20 (cluster.iterations). embed.embedder: tfidf follows c-BTM (Gururangan et al. 2023) but for their stop
// words and number folding (clustering/tfidf_embedder.h) and the text embedded (DtmEmbedConfig).
//
// The base model is the train config's model.path (a Hugging Face folder); every run fine-tunes it. Relative
// paths resolve against the folder of the file that holds them (an inline `train:` mapping: dtm.yml's folder), or
// the current directory for a value given with `ladle dtm --set`.
// Every key is declared once in dtm_config.cpp (lib/config/schema.h), which reads, checks and documents it
// (`ladle dtm --help-config`, docs/config.md); the `train:` section is read by the training config's own schema.
// Unknown keys and values of the wrong type or range are errors naming the file, the line and the key
// ("dtm.yml:7: cluster.k: expected a whole number >= 1, got 'many'"), or the --set argument that gave the value.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "trainer/heldout_evaluator.h"
#include "clustering/cluster_posterior.h"
#include "clustering/embedder.h"
#include "clustering/tfidf_embedder.h"
#include "clustering/kmeans.h"
#include "trainer/train_config.h"

namespace ladle::dtm {

// Where the base training config comes from: a train YAML (read whole), or the dtm.yml's own `train:` mapping.
struct DtmTrainSource {
  std::shared_ptr<const config::ConfigSource> source;  // the train YAML, or the dtm.yml (with its --set overrides)
  std::string key;                                     // of the training config in it: "" or "train"
};

// What turns a record's text into the vector k-means clusters.
enum class DtmEmbedder {
  hidden_states,  // the base model's pooled hidden states (clustering/embedder.h)
  tfidf,          // TF-IDF reduced by truncated SVD, c-BTM's choice (clustering/tfidf_embedder.h)
};

struct DtmEmbedConfig {
  DtmEmbedder embedder_kind = DtmEmbedder::hidden_states;
  // Which text (either embedder), pooling, layer, batch and length (hidden_states only; clustering/embedder.h).
  // The defaults follow the DTM authors, who embed each instance's response; c-BTM embeds whole documents, so
  // text: both is the setting closest to theirs for tfidf (the default stays response, so that switching the
  // embedder changes one thing). The c-BTM ensemble routes on the prompt with either embedder, as c-BTM does.
  clustering::EmbedderOptions embedder;
  // tfidf's SVD dimensions (c-BTM's 100). Where ladle's TF-IDF differs from theirs (stop words, numbers, exact
  // SVD): clustering/tfidf_embedder.h.
  clustering::TfidfOptions tfidf;
  bool bf16 = true;  // embed under bf16 autocast (hidden_states; fast on CPUs with AVX512_BF16; docs/building.md §3)
};

// k-means over the embeddings: K, or the Ks of a sweep, and faiss's knobs.
struct DtmClusterConfig {
  // The paper's K; several ([1, 2, 4, 8]) sweep it: every K its own clustering, sub-models, merges and report row
  // ("dtm-kmeans-k4", folders "cluster-k4/", runs "kmeans-k4-0"), K = 1 being vanilla fine-tuning (vanilla's run and
  // row, never trained twice). One K keeps the unsuffixed names.
  std::vector<std::int64_t> k = {clustering::KMeansOptions{}.k};
  clustering::KMeansOptions kmeans;  // iterations, nredo, seed, spherical, ...; its k is set per K by options()
  // Equal-size clusters (sizes differ by at most one), as c-BTM offers: faiss's centres, then a balanced
  // assignment to them (clustering/balanced_assignment.h).
  bool balanced = false;

  bool sweep() const { return k.size() > 1; }
  // The suffix K of names at `k` ("-k<k>", dtm_layout.h point_name): k when sweeping, else 0 (none).
  std::int64_t name_k(std::int64_t k_value) const { return sweep() ? k_value : 0; }
  // The Ks that cluster and train: every K, but K = 1 of a sweep (vanilla's).
  std::vector<std::int64_t> trained_k() const;
  std::int64_t max_k() const;
  clustering::KMeansOptions options(std::int64_t k_value) const;
};

// One merge of the sub-models, as the mergekit keys of a config over them (lib/merge/merge_config.h).
struct DtmMergeMethod {
  std::string merge_method = "linear";  // any registered merge method
  // mergekit `parameters:` (method-wide) and every sub-model's `parameters:`, as YAML flow mappings echoed into the
  // engine's config as written ("{lambda: 1}"); empty: none (linear's sub-models get weight 1).
  std::string parameters;
  std::string model_parameters;
  std::string dtype;  // working dtype (empty: the engine's float32)
  // Each sub-model's `weight` is its cluster's share of the training records, n_j / N (the DTM authors'
  // `mix_ratio`); false: the weights model_parameters gives (linear: equal). The methods that take a weight read
  // it as mergekit does: linear's weighted average, task arithmetic's Σ w_j·τ_j over the base.
  bool size_weighted = false;

  // The mergekit YAML that merges `models` (sub-model folders, or LoRA adapter folders) onto `base` (given to the
  // methods that require a base model); `sizes[j]` is the cluster size of models[j] (read when size_weighted).
  std::string yaml(const std::vector<std::filesystem::path>& models, const std::vector<std::int64_t>& sizes,
                   const std::filesystem::path& base) const;
};

// The merge of the sub-models reported as DTM. A plain average (linear, equal weights) is what the paper's ablation
// found best.
struct DtmMergeConfig {
  DtmMergeMethod method;
  // Which weights of each sub-model (and soup member) are merged: its final weights (OUTPUT_DIR/final/) or the
  // average an averaging callback of the training config kept (ema, swa or lawa: OUTPUT_DIR/<weights>/, which the
  // train section must turn on, e.g. `averaging: {ema: {decay: 0.999}}`). Every merge variant takes the same.
  std::string weights = "final";
};

// A further merge of the same sub-models, reported beside the DTM merge as "dtm-kmeans/<name>" (and
// "dtm-random/<name>" over the random split): no training, only a merge and an evaluation of its own.
struct DtmMergeVariant {
  std::string name;  // letters, digits, '_' and '-': its row and its folders
  DtmMergeMethod method;
};

struct DtmEvaluationConfig {
  // The held-out sets (any may be empty; at least one is given).
  std::filesystem::path valid;
  std::filesystem::path test;
  std::filesystem::path shifted;
  // Plain text of the base model's own pretraining distribution (lib/text/corpus_tokens.h layout; empty: none):
  // every model's loss on it, in blocks of the base model's context length, against the base's is the knowledge
  // the fine-tune lost (Fu et al.'s "alignment tax"). Reported as the set "knowledge"; max_examples blocks.
  std::filesystem::path knowledge;
  // Examples, generation (exact match) and choice scoring per set, batch, bf16, seed (heldout_evaluator.h).
  trainer::HeldOutEvaluationOptions options = default_options();

  // The evaluator's defaults, except 64 generated replies per set (the report's accuracies) and bf16.
  static trainer::HeldOutEvaluationOptions default_options();

  // The given instruction sets labelled "valid", "test" and "shifted", in that order.
  std::vector<trainer::HeldOutSet> sets() const;
  // Those and the knowledge text, when given, labelled "knowledge", in blocks that fill `context_length` tokens
  // (the evaluated models'; 0 when only the files matter).
  std::vector<trainer::HeldOutSet> scored_sets(std::int64_t context_length = 0) const;
};

// The comparisons the paper makes, each from the same base, data and compute.
struct DtmBaselineConfig {
  bool vanilla = true;       // one run on all the records for total_steps steps
  bool random_split = true;  // DTM over a random split with the k-means cluster sizes
  bool uniform_soup = true;  // the uniform soup of K all-records runs with different seeds, total_steps together
  // The c-BTM ensemble of the k-means sub-models (dtm_ensemble.h): no merge, their next-token probabilities mixed
  // per example; K forward passes per token, so off unless asked for.
  bool ensemble = false;
  // WiSE-FT of vanilla (Wortsman et al. 2022, eq. 1): base + α·(vanilla − base) for each α. These models lie on the
  // line from the base to vanilla, where "fine-tuning less" lands; a merge that pays less alignment tax than vanilla
  // only reduces it if it keeps more of the instruction gain than the point of this line with the same tax. Needs
  // vanilla; a merge and an evaluation each, no training. None by default.
  std::vector<double> interpolation;
};

struct DtmConfig {
  std::filesystem::path config_file;                  // the dtm.yml read (empty when built from text)
  std::filesystem::path output_dir = "out/dtm";      // every stage's output
  DtmTrainSource train;                               // the base training config
  // Dotted keys of the training config and values ("optimizer.lr=0.05"), applied to it as `ladle train --set`.
  std::vector<std::string> train_overrides;
  std::int64_t total_steps = 0;                       // steps of the sub-models together; 0: train's max_steps
  std::size_t records = 0;                            // a seeded subset of the training records (0: all)
  // Where embedding, training, merges and evaluation run (lib/config/device_value.h); the training runs get it as
  // their config's device (train_config applies it before train_overrides).
  std::string device = "cpu";
  // Replicates of the whole comparison: every method runs once per seed s, with every seed of the experiment shifted
  // by s (k-means' and the random split's seed by s, the runs' training seeds, i.e. data order and LoRA init, by
  // s·cluster.k so that no two runs of different replicates share one); s = 0 is the experiment as written, so the
  // default is today's single run and adding seeds reuses its output. The embedding and the records are shared.
  std::vector<std::uint64_t> seeds = {0};
  DtmEmbedConfig embed;
  DtmClusterConfig cluster;                           // K (or a sweep) and faiss's knobs; the random split uses its seed
  DtmMergeConfig merge;
  std::vector<DtmMergeVariant> merge_variants;        // none by default: the report's single DTM merge
  DtmEvaluationConfig evaluation;
  DtmBaselineConfig baselines;
  // The ensemble's weights: temperature and top-k of the cluster posterior (c-BTM's T = 0.1; every cluster).
  clustering::ClusterPosteriorOptions ensemble;

  std::vector<std::string> overrides;                 // the `ladle dtm --set` arguments (child processes get them)

  // Reads and validates a dtm.yml with `overrides` ("key=value", dotted keys, YAML values) applied, and the train
  // config it names, so a bad key there fails before any work. Throws ladle::Error as the header describes.
  static DtmConfig from_yaml_file(const std::filesystem::path& path, const std::vector<std::string>& overrides = {});
  // The same from text; `label` names it in messages and relative paths resolve against `base_dir`.
  static DtmConfig from_yaml(const std::string& text, const std::string& label, const std::filesystem::path& base_dir,
                             const std::vector<std::string>& overrides = {});

  // The base training config with `device`, train_overrides, then `run_overrides` ("key=value", absolute paths).
  trainer::TrainConfig train_config(const std::vector<std::string>& run_overrides = {}) const;
};

// The declaration of every key (lib/config/schema.h): reading, range checks and the key reference.
const config::Schema<DtmConfig>& dtm_config_schema();

}  // namespace ladle::dtm
