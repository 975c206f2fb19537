// Fingerprints of a DTM pipeline's stages (lib/io/stage_fingerprint.h): a hash of the settings a stage's output depends on and of its inputs'
// fingerprints, recorded beside the output. A stage is reused only while its recorded fingerprint equals the one
// the current config gives, so editing dtm.yml (K, a seed, the train section, the records) redoes the stages the
// edit reaches and everything downstream, never silently reusing stale output. What each covers:
//   embed       data.train's bytes, records, the base seed (it picks the subset), skip_bad_lines, the base model's
//               files (name, size, modification time), the tokenizer section, the embed section but batch_size
//               (embedder and dimensions only when the embedder is tfidf)
//   cluster     embed's, the cluster section (its K), and the replicate's seed (one per replicate and K)
//   run         its data's stage (cluster for sub-models, embed for vanilla and soup runs), and its whole training
//               config as the trainer resolves it (TrainConfig::to_json) but threads and overwrite_output_dir
//   merge       its runs', which of their weights it takes (merge.weights), and the mergekit config given to the
//               engine (method, parameters, dtype, model folders)
//   ensemble    its sub-models', their partition's (cluster) and the ensemble section
//   evaluation  the model's (the base model's files, or its run's or merge's), the held-out sets' bytes, and the
//               evaluation section
// Settings that change only speed (batch sizes of embedding, threads, --jobs) are left out on purpose.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pipelines/dtm/dtm_config.h"
#include "pipelines/dtm/dtm_layout.h"
#include "pipelines/dtm/dtm_runs.h"
#include "trainer/train_config.h"

namespace ladle::dtm {

class DtmFingerprints {
 public:
  // `base_train` is config.train_config(); `layout` names the runs' folders.
  DtmFingerprints(const DtmConfig& config, const DtmLayout& layout, const trainer::TrainConfig& base_train);

  std::string embed() const;
  // The partitions into `k` clusters of the replicate with seed `replicate` (dtm_config.h `seeds`).
  std::string cluster(std::int64_t k, std::uint64_t replicate = 0) const;
  std::string run(const DtmRun& run) const;
  // The merge of `members` (their fingerprints set) as the engine's config `merge_text` (empty for the uniform
  // soup) describes it.
  std::string merge(const std::vector<DtmRun>& members, const std::string& merge_text) const;
  std::string base_model() const;
  // The c-BTM ensemble of `sub_models` (the k-means runs of replicate `replicate`, their fingerprints set): its
  // runs, their partition (centres and embedding) and the ensemble section.
  std::string ensemble(const std::vector<DtmRun>& sub_models, std::int64_t k, std::uint64_t replicate) const;
  // The evaluation of a model whose own fingerprint is `model`.
  std::string evaluation(const std::string& model) const;

 private:
  const DtmConfig& config_;
  const DtmLayout& layout_;
  const trainer::TrainConfig& base_train_;
  mutable std::optional<std::string> embed_;  // hashing data.train is the costly part: once per process
};

// A stage folder's recorded fingerprint (<folder>/dtm-fingerprint), or "" when it has none.
std::string recorded_fingerprint(const std::filesystem::path& folder);
// Records it (atomically), so that the folder is reused while the config gives the same fingerprint.
void record_fingerprint(const std::filesystem::path& folder, const std::string& fingerprint);

}  // namespace ladle::dtm
