#include "pipelines/dtm/dtm_fingerprints.h"

#include "lib/io/stage_fingerprint.h"
#include "lib/text/token_cache.h"

namespace ladle::dtm {
namespace {

namespace fs = std::filesystem;
using io::fingerprint_of;
using io::folder_identity;

std::string content_hash(const fs::path& file) { return fingerprint_of(text::file_content_hash(file)); }

}  // namespace

DtmFingerprints::DtmFingerprints(const DtmConfig& config, const DtmLayout& layout, const trainer::TrainConfig& base_train)
    : config_(config), layout_(layout), base_train_(base_train) {}

std::string DtmFingerprints::base_model() const { return fingerprint_of(folder_identity(base_train_.model.path)); }

std::string DtmFingerprints::embed() const {
  if (!embed_) {
    const auto& embedder = config_.embed.embedder;
    embed_ = fingerprint_of({{"stage", "embed"},
                             {"train", base_train_.data.train.string()},
                             {"train_bytes", content_hash(base_train_.data.train)},
                             {"records", config_.records},
                             {"seed", base_train_.seed},
                             {"skip_bad_lines", base_train_.data.skip_bad_lines},
                             {"model", base_model()},
                             {"tokenizer", base_train_.to_json().at("tokenizer")},
                             {"text", static_cast<int>(embedder.text)},
                             {"pooling", static_cast<int>(embedder.pooling)},
                             {"layer", embedder.layer},
                             {"max_length", embedder.max_length},
                             {"add_bos", embedder.add_bos},
                             {"bf16", config_.embed.bf16}});
    // Only a non-default embedder enters the hash, so that the embeddings of earlier runs keep their fingerprint.
    if (config_.embed.embedder_kind == DtmEmbedder::tfidf) {
      embed_ = fingerprint_of({{"hidden_states", *embed_},
                               {"embedder", "tfidf"},
                               {"dimensions", config_.embed.tfidf.dimensions}});
    }
  }
  return *embed_;
}

std::string DtmFingerprints::cluster(std::int64_t k, std::uint64_t replicate) const {
  const auto& c = config_.cluster.kmeans;
  nlohmann::json inputs = {{"stage", "cluster"},
                           {"embed", embed()},
                           {"k", k},
                           {"iterations", c.iterations},
                           {"nredo", c.nredo},
                           {"seed", c.seed + static_cast<std::int64_t>(replicate)},
                           {"spherical", c.spherical},
                           {"max_points_per_centroid", c.max_points_per_centroid}};
  // Only when on: the partitions made before the key existed keep their fingerprints (and their runs).
  if (config_.cluster.balanced) inputs["balanced"] = true;
  return fingerprint_of(inputs);
}

std::string DtmFingerprints::run(const DtmRun& run) const {
  nlohmann::json train = run_train_config(config_, layout_, run).to_json();
  train.erase("threads");
  train.erase("overwrite_output_dir");
  const bool sub_model = run.family == RunFamily::kmeans || run.family == RunFamily::random;
  return fingerprint_of({{"stage", "run"}, {"data", sub_model ? cluster(run.k, run.replicate) : embed()}, {"train", train}});
}

std::string DtmFingerprints::merge(const std::vector<DtmRun>& members, const std::string& merge_text) const {
  std::vector<std::string> runs;
  for (const auto& member : members) runs.push_back(member.fingerprint);
  return fingerprint_of(
      {{"stage", "merge"}, {"runs", runs}, {"weights", config_.merge.weights}, {"config", merge_text}});
}

std::string DtmFingerprints::ensemble(const std::vector<DtmRun>& sub_models, std::int64_t k,
                                      std::uint64_t replicate) const {
  std::vector<std::string> runs;
  for (const auto& run : sub_models) runs.push_back(run.fingerprint);
  return fingerprint_of({{"stage", "ensemble"},
                         {"runs", runs},
                         {"partition", cluster(k, replicate)},
                         {"temperature", config_.ensemble.temperature},
                         {"top_k", config_.ensemble.top_k}});
}

std::string DtmFingerprints::evaluation(const std::string& model) const {
  const auto& o = config_.evaluation.options;
  nlohmann::json sets = nlohmann::json::array();
  for (const auto& set : config_.evaluation.scored_sets()) {
    sets.push_back({set.label, set.path.string(), content_hash(set.path)});
  }
  return fingerprint_of({{"stage", "evaluation"},
                         {"scores", "metrics and per-example scores"},  // files of older versions lack the latter
                         {"model", model},
                         {"sets", sets},
                         {"tokenizer", base_train_.to_json().at("tokenizer")},
                         {"max_examples", o.max_examples},
                         {"generation_examples", o.generation_examples},
                         {"batch_size", o.batch_size},
                         {"bf16", o.bf16},
                         {"seed", o.seed}});
}

std::string recorded_fingerprint(const fs::path& folder) { return io::recorded_fingerprint(folder / "dtm-fingerprint"); }

void record_fingerprint(const fs::path& folder, const std::string& fingerprint) {
  io::record_fingerprint(folder / "dtm-fingerprint", fingerprint);
}

}  // namespace ladle::dtm
