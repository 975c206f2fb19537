#include "pipelines/evolve/evolve_run.h"

#include <ATen/Parallel.h>

#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <sstream>

#include "lib/io/json_member.h"
#include "lib/io/model_folder.h"
#include "lib/io/atomic_file.h"
#include "lib/io/text_file.h"
#include "lib/log/log.h"
#include "lib/merge/input_models.h"
#include "lib/merge/merge_check.h"
#include "lib/merge/merge_config.h"
#include "lib/merge/merge_executor.h"
#include "lib/merge/merge_plan.h"
#include "lib/merge/merged_model_writer.h"
#include "lib/model/device.h"
#include "lib/search/cma_es.h"
#include "lib/util/available_memory.h"
#include "lib/util/error.h"
#include "lib/util/malloc_tuning.h"
#include "pipelines/evolve/merge_genome.h"
#include "pipelines/evolve/recipe_fitness.h"
#include "pipelines/evolve/scoring_workers.h"
#include "pipelines/evolve/single_threaded_workers.h"

namespace ladle::evolve {
namespace {

namespace fs = std::filesystem;

// The best candidate seen, as state.json keeps it.
struct Best {
  double fitness = std::numeric_limits<double>::infinity();
  std::map<std::string, double> per_task;
  std::vector<double> point;
};

nlohmann::json best_json(const Best& best) {
  if (best.point.empty()) return nullptr;
  return {{"fitness", best.fitness}, {"per_task", best.per_task}, {"point", best.point}};
}

Best best_from_json(const nlohmann::json& json) {
  Best best;
  if (json.is_null()) return best;
  best.fitness = json.at("fitness").get<double>();
  best.per_task = json.at("per_task").get<std::map<std::string, double>>();
  best.point = json.at("point").get<std::vector<double>>();
  return best;
}

// One candidate merged and scored.
struct CandidateResult {
  FitnessScore score;
  double merge_seconds = 0;  // the merge engine's pass
  double seconds = 0;        // the merge and the scoring
};

// state.json and candidates.jsonl, however long the run.
constexpr std::uintmax_t kMaxRunFileBytes = std::uintmax_t{1} << 34;

// Keeps the candidate lines of the generations state.json has (a killed run may have logged part of the next one).
void truncate_candidates(const fs::path& path, std::int64_t generations) {
  if (!fs::exists(path)) return;
  std::istringstream in(io::read_text_file(path, kMaxRunFileBytes));
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto entry = nlohmann::json::parse(line, nullptr, false);
    if (io::json_member<std::int64_t>(entry, "generation").value_or(generations) < generations) kept += line + "\n";
  }
  io::write_file_atomically(path, kept);
}

class EvolveRun {
 public:
  EvolveRun(const EvolveConfig& config, const EvolveRunOptions& options)
      : config_(config),
        options_(options),
        genome_(config),
        template_config_(parse(genome_.recipe_yaml(genome_.initial_point()))),
        models_(template_config_),
        search_(config.search) {
    models_.require_open();
    const merge::MergeCheckReport check = merge::check_merge(template_config_, models_);
    if (check.has_errors()) throw Error("evolve: the merge template cannot run:\n" + check.text());
    if (!options_.progress) options_.progress = [](const std::string& line) { std::cout << line << std::endl; };
  }

  EvolveOutcome run() {
    fs::create_directories(config_.output_dir);
    resume();
    // Before the first worker thread exists: every candidate's scoring allocates and frees the same activations,
    // which glibc would otherwise unmap and fault in again on every batch (lib/util/malloc_tuning.h).
    retain_freed_memory();
    start_workers();
    while (!search_.stopped()) {
      if (options_.stop_after_generations > 0 && search_.generation() >= options_.stop_after_generations) {
        return outcome(false);
      }
      generation();
    }
    finish();
    return outcome(true);
  }

 private:
  fs::path file(const char* name) const { return config_.output_dir / name; }

  merge::MergeConfig parse(const std::string& recipe) const {
    return merge::parse_merge_config(recipe, "evolve recipe", config_.output_dir);
  }

  void resume() {
    if (!fs::exists(file("state.json"))) {
      if (fs::exists(file("candidates.jsonl"))) fs::remove(file("candidates.jsonl"));
      return;
    }
    const auto state = nlohmann::json::parse(io::read_text_file(file("state.json"), kMaxRunFileBytes));
    if (state.at("config").get<std::string>() != config_.text) {
      throw Error("evolve: " + file("state.json").string() + " is from a different config; resume with the same " +
                  "evolve.yml, or give a new output_dir (or remove the old one)");
    }
    search_ = search::CmaEs::from_json(state.at("search"));
    best_ = best_from_json(state.at("best"));
    truncate_candidates(file("candidates.jsonl"), search_.generation());
    LADLE_LOG(info) << "evolve: resuming after generation " << search_.generation() << " (" << search_.evaluations()
                    << " candidates)";
  }

  // One RecipeFitness per worker, as many workers as scoring_workers.h allows.
  void start_workers() {
    const fs::path model_folder = io::model_folder_of(config_.base_model);
    fitness_.push_back(std::make_unique<RecipeFitness>(config_.fitness, model_folder, device_));
    std::uint64_t merged_bytes = 0;
    for (const auto& tensor : merge::plan_merge(template_config_, models_).tensors) merged_bytes += tensor.output_bytes;
    ScoringLimits limits;
    limits.threads = at::get_num_threads();
    limits.population = search_.population();
    limits.bytes_per_worker = merged_bytes + fitness_.front()->memory_bytes();
    limits.available_bytes = available_memory_bytes();
    const ScoringWorkers workers = choose_scoring_workers(config_.fitness.workers, limits);
    LADLE_LOG(info) << "evolve: scoring " << workers.count << " candidate(s) at once (" << workers.reason << ")";
    while (static_cast<int>(fitness_.size()) < workers.count) {
      fitness_.push_back(std::make_unique<RecipeFitness>(config_.fitness, model_folder, device_));
    }
  }

  // Merges a point's recipe in memory.
  NamedTensors merge_candidate(const std::vector<double>& point, CandidateResult& result) const {
    const merge::MergeConfig recipe = parse(genome_.recipe_yaml(point));
    merge::MergeExecutionOptions execution;
    execution.seed = config_.merge_seed;
    execution.device = device_;
    merge::MergeExecutionStats stats;
    NamedTensors weights = merge::merge_into_tensors(merge::plan_merge(recipe, models_), models_, &stats, execution);
    result.merge_seconds = stats.seconds;
    result.seconds = stats.seconds;
    return weights;
  }

  // The generation's candidates, results in candidate order, as many at a time as there are workers: merged one
  // after another, then scored side by side. Never both at once: for the length of a merge the merge engine installs
  // a process-wide CPU allocator (lib/util/huge_page_allocator.h), and a scoring that overlapped a merge aborted in
  // c10::Allocator::raw_deallocate when that allocator lacked the raw interface oneDNN's bf16 matmul uses (it has it
  // now; one merge at a time also keeps the merges' memory to one merge's). The merges run on one ATen thread too:
  // at the caller's count they took 0.045 s instead of 0.02 s in the experiment. A failure is a ladle::Error naming
  // the candidate.
  std::vector<CandidateResult> evaluate_all(const std::vector<std::vector<double>>& points) {
    std::vector<CandidateResult> results(points.size());
    for (std::size_t first = 0; first < points.size(); first += fitness_.size()) {
      const std::size_t count = std::min(fitness_.size(), points.size() - first);
      std::vector<NamedTensors> weights(count);
      run_on_single_threaded_workers(count, 1, [&](std::size_t i, int) {
        weights[i] = merge_candidate(points[first + i], results[first + i]);
      });
      run_on_single_threaded_workers(count, static_cast<int>(count), [&](std::size_t i, int worker) {
        const auto start = std::chrono::steady_clock::now();
        CandidateResult& result = results[first + i];
        try {
          result.score = fitness_[static_cast<std::size_t>(worker)]->score(weights[i]);
        } catch (const Error&) {
          throw;
        } catch (const std::exception& e) {
          throw Error("evolve: generation " + std::to_string(search_.generation() + 1) + ", candidate " +
                      std::to_string(first + i) + ": " + e.what());
        }
        result.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      });
    }
    return results;
  }

  void generation() {
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t number = search_.generation();
    const auto points = search_.ask();
    const std::vector<CandidateResult> results = evaluate_all(points);
    std::vector<double> values;
    std::string lines;
    for (std::size_t k = 0; k < points.size(); ++k) {
      const FitnessScore& score = results[k].score;
      values.push_back(score.value);
      if (score.value < best_.fitness) best_ = {score.value, score.per_task, points[k]};
      lines += nlohmann::json{{"generation", number},
                              {"candidate", k},
                              {"evaluation", search_.evaluations() + static_cast<std::int64_t>(k)},
                              {"genes", points[k]},
                              {"parameters", genome_.parameter_values(points[k])},
                              {"fitness", score.value},
                              {"per_task", score.per_task},
                              {"seconds", results[k].seconds},
                              {"merge_seconds", results[k].merge_seconds}}
                   .dump() +
               "\n";
    }
    search_.tell(values);
    {
      std::ofstream log(file("candidates.jsonl"), std::ios::app | std::ios::binary);
      log << lines;
      if (!log.flush()) throw Error("evolve: cannot append to " + file("candidates.jsonl").string());
    }
    io::write_file_atomically(
        file("state.json"),
        nlohmann::json{{"config", config_.text}, {"search", search_.to_json()}, {"best", best_json(best_)}}.dump() + "\n");
    const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    std::ostringstream line;
    line << "generation " << number + 1 << ": best " << *std::min_element(values.begin(), values.end()) << ", mean "
         << mean << ", best so far " << best_.fitness << ", sigma " << search_.sigma() << ", population "
         << points.size() << ", candidates " << search_.evaluations() << "/" << config_.search.max_evaluations << ", "
         << std::fixed << std::setprecision(1)
         << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s";
    if (search_.stopped()) line << " (stopped: " << search_.stop_reason() << ")";
    options_.progress(line.str());
  }

  void finish() const {
    if (best_.point.empty()) throw Error("evolve: the search stopped before any candidate was scored");
    const std::string recipe = genome_.recipe_yaml(best_.point);
    io::write_file_atomically(file("recipe.yml"), recipe);
    io::write_file_atomically(file("result.json"), nlohmann::json{{"fitness", best_.fitness},
                                                                  {"metric", config_.fitness.metric},
                                                                  {"per_task", best_.per_task},
                                                                  {"genes", best_.point},
                                                                  {"gene_names", genome_.gene_names()},
                                                                  {"parameters", genome_.parameter_values(best_.point)},
                                                                  {"generations", search_.generation()},
                                                                  {"evaluations", search_.evaluations()},
                                                                  {"restarts", search_.restarts()},
                                                                  {"stop_reason", search_.stop_reason()}}
                                                           .dump(2) +
                                                       "\n");
    if (!options_.write_model) return;
    // The recipe as written, through the same path as `ladle merge recipe.yml model`.
    const merge::MergeConfig written = merge::load_merge_config(file("recipe.yml"));
    merge::MergedModelWriteOptions write;
    write.overwrite = true;
    write.execution.seed = config_.merge_seed;
    write.execution.device = device_;
    merge::write_merged_model(written, merge::plan_merge(written, models_), models_, file("model"), write);
  }

  EvolveOutcome outcome(bool finished) const {
    EvolveOutcome result;
    result.finished = finished;
    result.stop_reason = finished ? search_.stop_reason() : "";
    result.generations = search_.generation();
    result.evaluations = search_.evaluations();
    result.best_fitness = best_.fitness;
    result.best_per_task = best_.per_task;
    result.best_point = best_.point;
    if (!best_.point.empty()) result.best_recipe = genome_.recipe_yaml(best_.point);
    return result;
  }

  const EvolveConfig& config_;
  const c10::Device device_ = model::resolve_device(config_.device);  // merges and scoring run there
  EvolveRunOptions options_;
  MergeGenome genome_;
  merge::MergeConfig template_config_;
  merge::InputModels models_;
  search::CmaEs search_;
  std::vector<std::unique_ptr<RecipeFitness>> fitness_;  // one per worker
  Best best_;
};

}  // namespace

EvolveOutcome run_evolve(const EvolveConfig& config, const EvolveRunOptions& options) {
  return EvolveRun(config, options).run();
}

}  // namespace ladle::evolve
