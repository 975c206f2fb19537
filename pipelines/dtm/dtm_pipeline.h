// DtmPipeline: Disperse-Then-Merge (Fu et al., ACL Findings 2024) end to end, as stages that each leave their
// output on disk (dtm_layout.h) and are skipped when it is there, newer than their inputs and made under the same
// settings (dtm_fingerprints.h: editing dtm.yml redoes what the edit reaches and everything downstream):
//   embed     the training records' embeddings with the base model (clustering/embedder.h), or by TF-IDF and
//             truncated SVD fitted to them (embed.embedder: tfidf; clustering/tfidf_embedder.h)
//   cluster   faiss k-means into K clusters, and a random split with the same sizes; one JSONL per cluster
//   train     the runs of dtm_runs.h (sub-models and baselines), in child processes, `jobs` at once; an
//             unfinished run resumes from its latest checkpoint
//   merge     the sub-models of each split with the merge engine (a plain average by default; LoRA sub-models in
//             ΔW space, lib/merge/lora_merge.h), once per merge variant too, and the soup runs' uniform soup; of
//             each run its final weights or the average its training config kept (merge.weights: ema, swa, lawa)
//   evaluate  base, vanilla, both DTM merges, the soup and the c-BTM ensemble on the held-out sets (and the
//             knowledge text), `jobs` models at once in child processes
//   report    report.md with the tables, the loss-decrease diagnostic and plots (dtm_report.h)
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pipelines/dtm/child_processes.h"
#include "pipelines/dtm/dtm_config.h"
#include "pipelines/dtm/dtm_layout.h"
#include "pipelines/dtm/dtm_runs.h"

namespace ladle::model {
class CausalLm;
}  // namespace ladle::model

namespace ladle::dtm {

class DtmFingerprints;

enum class DtmStage { embed, cluster, train, merge, evaluate, report };

const char* dtm_stage_name(DtmStage stage);
// "embed", ..., "report"; nullopt for any other name.
std::optional<DtmStage> parse_dtm_stage(const std::string& name);

struct DtmPipelineOptions {
  int jobs = 1;  // runs trained at once, each a child process
  // Train only these runs, in this process (after embed and cluster), then stop: how a scheduler's jobs share the
  // runs (`--only-run NAME`, `--only-cluster k`).
  std::vector<std::string> only_runs;
  std::optional<std::int64_t> only_cluster;  // every run with this index: kmeans-k, random-k, soup-k
  // Evaluate only these models (base, vanilla, dtm-kmeans, dtm-random, soup, dtm-kmeans/<variant>, ...) in this process, then stop: how
  // `jobs` spreads the evaluation over child processes (`--only-evaluate NAME`). Needs the merge stage done.
  std::vector<std::string> only_models;
  DtmStage until = DtmStage::report;         // the last stage to run
  // Do not train: the merge stage fails, naming the runs, unless every run has finished (a scheduler's last job,
  // after the jobs that trained them).
  bool no_train = false;
  // How a child process is started: the `ladle` executable and the arguments before the subcommand ("--threads",
  // "2", "--log-level", "info"); a child runs `<executable> <global_args> dtm --config FILE --only-run NAME`.
  std::filesystem::path executable;
  std::vector<std::string> global_args;
  // Overrides for every run trained in this process ("threads=2", from the command line's --threads).
  std::vector<std::string> run_overrides;
};

class DtmPipeline {
 public:
  // The config must come from a file (children re-read it). Throws ladle::Error for invalid options.
  DtmPipeline(DtmConfig config, DtmPipelineOptions options);
  ~DtmPipeline();

  const DtmLayout& layout() const { return layout_; }

  // Runs the stages up to options.until. Returns report.md's text when the report stage ran, else "".
  std::string run();

  // Every run the config asks for (needs the cluster stage's output).
  std::vector<DtmRun> runs() const;

 private:
  void embed();
  // The embeddings of `records` as embed.embedder makes them; tfidf saves its fitted embedder into `folder`.
  clustering::FloatMatrix embed_records(const std::vector<text::InstructionRecord>& records,
                                        const std::filesystem::path& folder) const;
  void cluster();
  // The k-means partition into k clusters and the random split of one seed.
  void cluster_replicate(std::uint64_t replicate, std::int64_t k);
  void train();
  void merge();
  // One seed's merges and soup at one K.
  void merge_replicate(const std::vector<DtmRun>& runs, std::uint64_t replicate, std::int64_t k);
  // Vanilla's WiSE-FT interpolations of replicate `replicate` (baselines.interpolation).
  void merge_interpolations(const std::vector<DtmRun>& runs, std::uint64_t replicate);
  // Merges `members` (the sub-models of one split; `cluster_sizes` indexed by their cluster) with `method` into
  // merge/<name>/, unless it is there under the same fingerprint.
  void merge_sub_models(const std::vector<DtmRun>& members, const std::vector<std::int64_t>& cluster_sizes,
                        const DtmMergeMethod& method, const std::string& name);
  void evaluate();
  void report();  // sets report_text_

  // The folder of the run's weights that the merge takes (merge.weights: final/, ema/, ...); throws ladle::Error
  // when the run did not write it.
  std::filesystem::path merged_weights_dir(const DtmRun& run) const;

  struct EvaluatedModel;
  // The models the config evaluates, in the report's order.
  std::vector<EvaluatedModel> evaluated_models() const;
  // The c-BTM ensemble of a replicate's k-means sub-models (dtm_ensemble.h), on the config's device.
  std::shared_ptr<model::CausalLm> ensemble_model(const EvaluatedModel& model) const;
  // `<executable> <global_args> dtm --config FILE <arguments>`, its output appended to `log`.
  ChildCommand child_command(const std::string& label, const std::vector<std::string>& arguments,
                             const std::filesystem::path& log) const;

  DtmConfig config_;
  DtmPipelineOptions options_;
  DtmLayout layout_;
  trainer::TrainConfig base_train_;  // the base training config (the runs' settings before their own overrides)
  std::unique_ptr<DtmFingerprints> fingerprints_;  // of every stage, for the config above
  std::string report_text_;
};

}  // namespace ladle::dtm
