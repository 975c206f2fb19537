// DtmLayout: where each stage of a DTM pipeline keeps its output under the config's output_dir. Every folder and
// file below appears only when complete (written under a temporary name and renamed), so its existence is what
// "the stage is done" means:
//   embed/            train.jsonl (the records clustered and trained on), embeddings.npy, embed.json, and with
//                     embed.embedder tfidf the fitted TF-IDF (clustering/tfidf_embedder.h files) the ensemble reuses
//   cluster/kmeans/   the k-means partition (clustering/partition.h files), its report, cluster-<k>.jsonl subsets
//   cluster/random/   the random split with the same sizes, likewise
// Every folder and file of a replicate with seed s > 0 (dtm_config.h `seeds`) has its name suffixed "-seed<s>"
// (cluster-seed1/, runs/kmeans-0-seed1/, merge/kmeans-seed1/, evaluate/vanilla-seed1.json), seed 0's none; in a K
// sweep (cluster.k a list) each K's have "-k<K>" after the method (cluster-k4-seed1/, runs/kmeans-k4-0/,
// runs/soup-k4-1/, merge/kmeans-k4/, evaluate/dtm-kmeans-k4.json); vanilla's, shared by every K, none.
//   runs/<name>/      one trainer run each (trainer output_dir: metrics.jsonl, checkpoints/, final/, and ema/,
//                     swa/, lawa/ when the train section keeps those averages) and
//                     dtm-run.json once it finished; runs/<name>.run-lock is held by the job that trains it
//                     (others wait; the trainer's own io::OutputLock is runs/<name>.lock), runs/<name>.log is
//                     a child process's output
//   merge/<family>/   merged models (kmeans, random: the merge engine over the sub-models; soup: uniform soup),
//                     with the mergekit config given to the engine beside them (<family>.yml)
//   merge/variants/<variant>/<family>/   the merge variant's merge of the same sub-models (dtm.yml merge_variants),
//                     its config beside it likewise
//   evaluate/<model>.json   held-out metrics of base, vanilla, dtm-kmeans, dtm-random, soup, ensemble, and
//                     dtm-kmeans/<variant>.json, dtm-random/<variant>.json (evaluate/<model>.log: a child process's
//                     output)
// embed/, cluster/ and each merge folder hold dtm-fingerprint, each run's folder too (and its dtm-run.json and
// every evaluation file a "fingerprint"): what the output was made from (dtm_fingerprints.h).
//   report/           report.md, report.json, the plots
#pragma once

#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

namespace ladle::dtm {

// The name of a folder, run or model in the replicate with seed `seed`: itself for seed 0, else "<name>-seed<seed>".
inline std::string seeded_name(const std::string& name, std::uint64_t seed) {
  return seed == 0 ? name : name + "-seed" + std::to_string(seed);
}

// The name of a folder, run or model at K = `k` of a K sweep (0: no sweep, or a name no K has, as vanilla's):
// "<name>-k<k>"; itself for k = 0.
inline std::string swept_name(const std::string& name, std::int64_t k) {
  return k == 0 ? name : name + "-k" + std::to_string(k);
}

// The row (and, seeded, the merge folder under merge/) of vanilla's WiSE-FT interpolation at `alpha`: "wise-ft-0.5".
inline constexpr const char* kInterpolationPrefix = "wise-ft-";
inline std::string interpolation_name(double alpha) {
  std::ostringstream name;
  name << kInterpolationPrefix << alpha;
  return name.str();
}

// The merge folder's name (under merge/) of the merge variant `variant` over the split `split` ("kmeans",
// "random-seed1").
inline std::string variant_merge_name(const std::string& variant, const std::string& split) {
  return "variants/" + variant + "/" + split;
}

struct DtmLayout {
  std::filesystem::path root;  // the config's output_dir, absolute

  std::filesystem::path embed_dir() const { return root / "embed"; }
  std::filesystem::path records_file() const { return embed_dir() / "train.jsonl"; }
  std::filesystem::path embeddings_file() const { return embed_dir() / "embeddings.npy"; }
  // The partitions of the replicate with seed `seed` at the swept K `k` (swept_name: 0 without a sweep).
  std::filesystem::path cluster_dir(std::uint64_t seed = 0, std::int64_t k = 0) const {
    return root / seeded_name(swept_name("cluster", k), seed);
  }
  // "kmeans" or "random": one partition's folder.
  std::filesystem::path partition_dir(const std::string& method, std::uint64_t seed = 0, std::int64_t k = 0) const {
    return cluster_dir(seed, k) / method;
  }
  std::filesystem::path subset_file(const std::string& method, std::int64_t cluster, std::uint64_t seed = 0,
                                    std::int64_t k = 0) const {
    return partition_dir(method, seed, k) / ("cluster-" + std::to_string(cluster) + ".jsonl");
  }
  std::filesystem::path run_dir(const std::string& run) const { return root / "runs" / run; }
  std::filesystem::path run_done_file(const std::string& run) const { return run_dir(run) / "dtm-run.json"; }
  std::filesystem::path run_lock_file(const std::string& run) const { return root / "runs" / (run + ".run-lock"); }
  std::filesystem::path run_log_file(const std::string& run) const { return root / "runs" / (run + ".log"); }
  std::filesystem::path merge_dir(const std::string& name) const { return root / "merge" / name; }
  // The mergekit config given to the engine for the merge `name`, beside its folder.
  std::filesystem::path merge_config_file(const std::string& name) const {
    return root / "merge" / (name + ".yml");
  }
  std::filesystem::path evaluation_file(const std::string& model) const {
    return root / "evaluate" / (model + ".json");
  }
  std::filesystem::path report_dir() const { return root / "report"; }
};

}  // namespace ladle::dtm
