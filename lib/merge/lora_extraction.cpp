#include "lib/merge/lora_extraction.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "lib/io/atomic_file.h"
#include "lib/io/checkpoint_reader.h"
#include "lib/io/safetensors_writer.h"
#include "lib/io/torch_dtype.h"
#include "lib/log/log.h"
#include "lib/merge/lora_factorization.h"
#include "lib/model/lora_adapter_config.h"
#include "lib/text/oniguruma_regex.h"
#include "lib/merge/tensor_names.h"
#include "lib/util/error.h"
#include "lib/util/progress_line.h"
#include "lib/util/shape_text.h"
#include "lib/util/string_affixes.h"

namespace ladle::merge {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPeftPrefix = "base_model.model.";
constexpr const char* kOutputEmbedding = "lm_head.weight";

std::vector<text::OnigurumaRegex> compile(const std::vector<std::string>& patterns, const std::string& option) {
  std::vector<text::OnigurumaRegex> compiled;
  for (const auto& pattern : patterns)
    compiled.emplace_back(pattern, option + ": '" + pattern + "'", text::RegexSyntax::python);
  return compiled;
}

bool any_finds(const std::vector<text::OnigurumaRegex>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const text::OnigurumaRegex& pattern) { return pattern.found_in(name); });
}

// One module's plan: which tensors, how carried, with which rank.
struct PlannedModule {
  ExtractedModule row;
  std::string weight;                // "<module>.weight" in the fine-tune ("" for a lone tensor)
  std::optional<std::string> bias;   // "<module>.bias" when the fine-tune has it
  std::vector<std::string> tensors;  // saved modules: the fine-tune tensors to copy
  std::int64_t rows = -1;            // decomposed/saved vocabulary matrices: rows kept (-1: all)
};

// The two models, with lm_head standing for the input embedding in a model that ties them.
class ModelPair {
 public:
  ModelPair(const fs::path& base, const fs::path& finetuned) : base_(base), finetuned_(finetuned) {
    base_embedding_ = input_embedding(base_);
    finetuned_embedding_ = input_embedding(finetuned_);
  }

  const io::CheckpointReader& base() const { return base_; }
  const io::CheckpointReader& finetuned() const { return finetuned_; }

  std::string base_name(const std::string& name) const { return resolve(base_, base_embedding_, name); }
  std::string finetuned_name(const std::string& name) const { return resolve(finetuned_, finetuned_embedding_, name); }
  // The fine-tune's tensor names, with lm_head added when only the base has it.
  std::vector<std::string> finetuned_names() const {
    std::vector<std::string> names = finetuned_.names();
    if (!finetuned_.contains(kOutputEmbedding) && base_.contains(kOutputEmbedding) && !finetuned_embedding_.empty()) {
      names.push_back(kOutputEmbedding);
    }
    return names;
  }

 private:
  static std::string input_embedding(const io::CheckpointReader& reader) {
    for (const auto& name : reader.names()) {
      if (is_vocabulary_tensor(name) && is_pre_layer_tensor(name)) return name;
    }
    return "";
  }
  static std::string resolve(const io::CheckpointReader& reader, const std::string& embedding,
                             const std::string& name) {
    if (name == kOutputEmbedding && !reader.contains(name) && !embedding.empty()) return embedding;
    return name;
  }

  io::CheckpointReader base_, finetuned_;
  std::string base_embedding_, finetuned_embedding_;
};

std::string architecture(const io::CheckpointReader& reader) {
  if (!reader.config() || !reader.config()->is_object()) return "";
  const auto found = reader.config()->find("architectures");
  return found != reader.config()->end() && found->is_array() ? found->dump() : "";
}

// Checks that `name` has the same shape in both models, or (a vocabulary matrix) more rows in the fine-tune;
// returns the rows to keep of the fine-tune's (-1: all).
std::int64_t checked_rows(const ModelPair& models, const std::string& name, bool extend_vocab) {
  const std::string base_name = models.base_name(name), finetuned_name = models.finetuned_name(name);
  if (!models.base().contains(base_name)) {
    throw Error(models.base().path().string() + ": no '" + name + "', which " + models.finetuned().path().string() +
                " has; the models have different architectures");
  }
  const auto& base_shape = models.base().entry(base_name).shape;
  const auto& finetuned_shape = models.finetuned().entry(finetuned_name).shape;
  if (base_shape == finetuned_shape) return -1;
  const bool added_rows = is_vocabulary_tensor(name) && base_shape.size() == 2 && finetuned_shape.size() == 2 &&
                          base_shape[1] == finetuned_shape[1] && finetuned_shape[0] > base_shape[0];
  if (!added_rows) {
    throw Error("'" + name + "' has shape " + shape_text(base_shape) + " in " + models.base().path().string() +
                " but " + shape_text(finetuned_shape) + " in " + models.finetuned().path().string());
  }
  if (extend_vocab) return -1;
  LADLE_LOG(warning) << "extract-lora: '" << name << "': the fine-tune's " << finetuned_shape[0] - base_shape[0]
                     << " added vocabulary rows are truncated (keep them with --extend-vocab)";
  return base_shape[0];
}

bool is_floating(const io::CheckpointReader& reader, const std::string& name) {
  const auto dtype = io::to_scalar_type(reader.entry(name).dtype);
  return dtype && at::isFloatingType(*dtype);
}

std::int64_t module_rank(const std::string& module, const LoraExtractionOptions& options,
                         const std::vector<text::OnigurumaRegex>& rank_regexes) {
  for (std::size_t i = 0; i < rank_regexes.size(); ++i) {
    if (rank_regexes[i].found_in(module)) return options.rank_patterns[i].rank;
  }
  return options.rank;
}

void validate(const LoraExtractionOptions& options) {
  if (options.rank < 1) throw Error("extract-lora: --rank must be at least 1, got " + std::to_string(options.rank));
  for (const auto& pattern : options.rank_patterns) {
    if (pattern.rank < 1) {
      throw Error("extract-lora: --rank-pattern '" + pattern.regex + "': the rank must be at least 1, got " +
                  std::to_string(pattern.rank));
    }
  }
}

// Every module of the fine-tune, classified and checked against the base; nothing is read but headers.
std::vector<PlannedModule> plan_modules(const ModelPair& models, const LoraExtractionOptions& options) {
  std::vector<std::string> rank_pattern_texts;
  for (const auto& pattern : options.rank_patterns) rank_pattern_texts.push_back(pattern.regex);
  const auto rank_regexes = compile(rank_pattern_texts, "--rank-pattern");
  const auto includes = compile(options.include_regexes, "--include-regex");
  const auto excludes = compile(options.exclude_regexes, "--exclude-regex");

  const std::string base_architecture = architecture(models.base());
  const std::string finetuned_architecture = architecture(models.finetuned());
  if (!base_architecture.empty() && !finetuned_architecture.empty() && base_architecture != finetuned_architecture) {
    throw Error("extract-lora: " + models.base().path().string() + " is " + base_architecture + " but " +
                models.finetuned().path().string() + " is " + finetuned_architecture);
  }
  const std::vector<std::string> names = models.finetuned_names();
  const std::set<std::string> finetuned_set(names.begin(), names.end());
  for (const auto& name : models.base().names()) {
    if (finetuned_set.count(name) == 0 && !(is_vocabulary_tensor(name) && models.finetuned_name(name) != name)) {
      throw Error(models.finetuned().path().string() + ": no '" + name + "', which " + models.base().path().string() +
                  " has; the models have different architectures");
    }
  }

  std::vector<PlannedModule> modules;
  std::map<std::string, std::size_t> index;  // module name -> position in `modules`
  for (const auto& name : names) {
    const bool weight = ends_with(name, ".weight"), bias = ends_with(name, ".bias");
    const std::string module = weight ? name.substr(0, name.size() - 7) : bias ? name.substr(0, name.size() - 5) : name;
    auto [position, added] = index.emplace(module, modules.size());
    if (added) {
      modules.emplace_back();
      modules.back().row.name = module;
    }
    PlannedModule& planned = modules[position->second];
    if (weight) planned.weight = name;
    if (bias) planned.bias = name;
    planned.tensors.push_back(name);
  }

  std::vector<PlannedModule> kept;
  for (auto& planned : modules) {
    const std::string& module = planned.row.name;
    if ((!includes.empty() && !any_finds(includes, module)) || any_finds(excludes, module)) continue;
    for (const auto& name : planned.tensors)
      planned.rows = std::max(planned.rows, checked_rows(models, name, options.extend_vocab));
    const bool matrix = !planned.weight.empty() &&
                        models.finetuned().entry(models.finetuned_name(planned.weight)).shape.size() == 2 &&
                        is_floating(models.finetuned(), models.finetuned_name(planned.weight));
    const bool vocabulary = !planned.weight.empty() && is_vocabulary_tensor(planned.weight);
    const bool input_embedding = vocabulary && is_pre_layer_tensor(planned.weight);
    const bool vocab_grown = vocabulary && options.extend_vocab &&
                             models.base().entry(models.base_name(planned.weight)).shape !=
                                 models.finetuned().entry(models.finetuned_name(planned.weight)).shape;
    auto& row = planned.row;
    if (matrix && !vocab_grown && (!vocabulary || options.embed_lora)) {
      row.kind = input_embedding ? ExtractedModuleKind::embedding : ExtractedModuleKind::lora;
      auto shape = models.base().entry(models.base_name(planned.weight)).shape;
      if (input_embedding) std::swap(shape[0], shape[1]);
      row.shape = shape;
      row.rank = std::min({module_rank(module, options, rank_regexes), shape[0], shape[1]});
      if (planned.bias && input_embedding) {
        throw Error("extract-lora: the input embedding '" + module + "' has a bias, which PEFT cannot carry");
      }
    } else if (!matrix && options.skip_undecomposable && !vocabulary) {
      row.kind = ExtractedModuleKind::skipped;
    } else {
      row.kind = ExtractedModuleKind::saved;
    }
    kept.push_back(std::move(planned));
  }
  return kept;
}

std::string peft_name(const std::string& module, const char* suffix) { return kPeftPrefix + module + suffix; }

// The adapter's tensors, in the order they are computed.
std::vector<io::TensorDeclaration> declarations(const ModelPair& models, const std::vector<PlannedModule>& modules) {
  std::vector<io::TensorDeclaration> declared;
  for (const auto& planned : modules) {
    const auto& row = planned.row;
    const auto dtype = [&](const std::string& name) {
      return models.finetuned().entry(models.finetuned_name(name)).dtype;
    };
    if (row.kind == ExtractedModuleKind::lora) {
      declared.push_back({peft_name(row.name, ".lora_A.weight"), dtype(planned.weight), {row.rank, row.shape[1]}});
      declared.push_back({peft_name(row.name, ".lora_B.weight"), dtype(planned.weight), {row.shape[0], row.rank}});
      if (planned.bias) declared.push_back({peft_name(row.name, ".lora_B.bias"), dtype(*planned.bias), {row.shape[0]}});
    } else if (row.kind == ExtractedModuleKind::embedding) {
      declared.push_back({peft_name(row.name, ".lora_embedding_A"), dtype(planned.weight), {row.rank, row.shape[1]}});
      declared.push_back({peft_name(row.name, ".lora_embedding_B"), dtype(planned.weight), {row.shape[0], row.rank}});
    } else if (row.kind == ExtractedModuleKind::saved) {
      for (const auto& name : planned.tensors) {
        auto shape = models.finetuned().entry(models.finetuned_name(name)).shape;
        if (planned.rows >= 0 && !shape.empty()) shape[0] = planned.rows;
        declared.push_back({peft_name(name, ""), dtype(name), shape});
      }
    }
  }
  return declared;
}

at::Tensor finetuned_tensor(const ModelPair& models, const std::string& name, std::int64_t rows) {
  at::Tensor tensor = models.finetuned().tensor(models.finetuned_name(name));
  return rows >= 0 ? tensor.narrow(0, 0, rows) : tensor;
}

// ΔW of one module in the SVD's working precision (fp64 for fp64 weights, else fp32), [out, in].
at::Tensor weight_delta(const ModelPair& models, const PlannedModule& planned) {
  const at::Tensor base = models.base().tensor(models.base_name(planned.weight));
  const at::Tensor finetuned = finetuned_tensor(models, planned.weight, planned.rows);
  const auto working = finetuned.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return finetuned.to(working) - base.to(working);
}

void extract_module(const ModelPair& models, PlannedModule& planned, io::ShardedSafetensorsWriter& writer) {
  auto& row = planned.row;
  if (row.kind == ExtractedModuleKind::skipped) return;
  if (row.kind == ExtractedModuleKind::saved) {
    for (const auto& name : planned.tensors)
      writer.add(peft_name(name, ""), finetuned_tensor(models, name, planned.rows));
    return;
  }
  const bool embedding = row.kind == ExtractedModuleKind::embedding;
  at::Tensor delta = weight_delta(models, planned);
  if (embedding) delta = delta.t();
  const LoraFactors factors = truncated_lora_factors(delta, row.rank, SingularValueSplit::balanced);
  const auto stored = io::to_scalar_type(models.finetuned().entry(models.finetuned_name(planned.weight)).dtype);
  const at::Tensor a = factors.a.to(*stored), b = factors.b.to(*stored);
  row.kept_energy = factors.kept_energy;
  row.total_energy = factors.total_energy;
  const double norm = std::sqrt(factors.total_energy);
  row.relative_error =
      norm > 0 ? (delta - at::matmul(b.to(delta.scalar_type()), a.to(delta.scalar_type()))).norm().item<double>() / norm
               : 0.0;
  writer.add(peft_name(row.name, embedding ? ".lora_embedding_A" : ".lora_A.weight"), a);
  writer.add(peft_name(row.name, embedding ? ".lora_embedding_B" : ".lora_B.weight"), b);
  if (planned.bias) {
    const at::Tensor base_bias = models.base().tensor(*planned.bias);
    const at::Tensor bias = finetuned_tensor(models, *planned.bias, planned.rows);
    writer.add(peft_name(row.name, ".lora_B.bias"),
               (bias.to(at::kDouble) - base_bias.to(at::kDouble)).to(bias.scalar_type()));
  }
}

std::string last_component(const std::string& module) { return module.substr(module.rfind('.') + 1); }

model::LoraAdapterConfig adapter_config(const fs::path& base, const LoraExtractionResult& result, bool lora_bias) {
  std::set<std::string> targets, saved;
  std::map<std::string, std::int64_t> ranks;  // module -> rank where it differs from r, by name
  for (const auto& row : result.modules) {
    if (row.kind == ExtractedModuleKind::saved) saved.insert(last_component(row.name));
    if (row.kind != ExtractedModuleKind::lora && row.kind != ExtractedModuleKind::embedding) continue;
    targets.insert(last_component(row.name));
    if (row.rank != result.rank) ranks[row.name] = row.rank;
  }
  // mergekit's make_config_dict, with lora_alpha = r and alpha_pattern = rank_pattern so that every α/r is 1.
  model::LoraAdapterConfig config;
  config.options.r = result.rank;
  config.options.alpha = static_cast<double>(result.rank);
  config.options.dropout = 0.0;
  config.options.target_modules.assign(targets.begin(), targets.end());
  config.base_model_name_or_path = base.string();
  for (const auto& [module, rank] : ranks) {
    config.rank_pattern.emplace_back(module, rank);
    config.alpha_pattern.emplace_back(module, static_cast<double>(rank));
  }
  config.modules_to_save.assign(saved.begin(), saved.end());
  config.lora_bias = lora_bias;
  return config;
}

const char* kind_name(ExtractedModuleKind kind) {
  switch (kind) {
    case ExtractedModuleKind::lora:
      return "lora";
    case ExtractedModuleKind::embedding:
      return "embedding";
    case ExtractedModuleKind::saved:
      return "saved";
    case ExtractedModuleKind::skipped:
      return "skipped";
  }
  return "";
}

}  // namespace

std::string LoraExtractionResult::table() const {
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line, "%-48s %-9s %6s %9s %10s\n", "module", "kind", "rank", "energy", "rel.error");
  text += line;
  double kept = 0, total = 0;
  for (const auto& row : modules) {
    const bool decomposed = row.kind == ExtractedModuleKind::lora || row.kind == ExtractedModuleKind::embedding;
    if (decomposed) {
      std::snprintf(line, sizeof line, "%-48s %-9s %6lld %9.6f %10.3e\n", row.name.c_str(), kind_name(row.kind),
                    static_cast<long long>(row.rank), row.energy_fraction(), row.relative_error);
      kept += row.kept_energy;
      total += row.total_energy;
    } else {
      std::snprintf(line, sizeof line, "%-48s %-9s %6s %9s %10s\n", row.name.c_str(), kind_name(row.kind), "-", "-",
                    "-");
    }
    text += line;
  }
  std::snprintf(line, sizeof line, "r = lora_alpha = %lld; energy retained over all decomposed modules: %.6f\n",
                static_cast<long long>(rank), total > 0 ? kept / total : 1.0);
  return text + line;
}

std::string LoraExtractionResult::json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : modules) {
    nlohmann::json entry = {{"module", row.name}, {"kind", kind_name(row.kind)}, {"shape", row.shape}};
    if (row.kind == ExtractedModuleKind::lora || row.kind == ExtractedModuleKind::embedding) {
      entry["rank"] = row.rank;
      entry["kept_energy"] = row.kept_energy;
      entry["total_energy"] = row.total_energy;
      entry["energy_fraction"] = row.energy_fraction();
      entry["relative_error"] = row.relative_error;
    }
    rows.push_back(entry);
  }
  return nlohmann::json{{"r", rank}, {"modules", rows}}.dump(2) + "\n";
}

LoraExtractionResult extract_lora(const fs::path& base, const fs::path& finetuned, const fs::path& directory,
                                  const LoraExtractionOptions& options) {
  validate(options);
  const ModelPair models(base, finetuned);
  std::vector<PlannedModule> modules = plan_modules(models, options);
  LoraExtractionResult result;
  bool lora_bias = false;
  std::size_t decomposed = 0;
  for (const auto& planned : modules) {
    if (planned.row.kind != ExtractedModuleKind::lora && planned.row.kind != ExtractedModuleKind::embedding) continue;
    result.rank = std::max(result.rank, planned.row.rank);
    lora_bias = lora_bias || (planned.row.kind == ExtractedModuleKind::lora && planned.bias.has_value());
    ++decomposed;
  }
  if (decomposed == 0) throw Error("extract-lora: no module to decompose (check --include-regex / --exclude-regex)");

  io::AtomicDirectory folder(directory, options.overwrite);
  io::ShardedSafetensorsWriter writer(folder.path(), std::numeric_limits<std::uint64_t>::max(), "adapter_model");
  writer.declare_tensors(declarations(models, modules));
  ProgressOptions progress_options;
  progress_options.item_name = "modules";
  ProgressLine progress("extract-lora", modules.size(), progress_options);
  for (auto& planned : modules) {
    extract_module(models, planned, writer);
    result.modules.push_back(planned.row);
    progress.advance();
  }
  progress.finish();
  writer.finish();
  io::write_file_atomically(folder.path() / "adapter_config.json",
                            model::lora_adapter_config_json(adapter_config(base, result, lora_bias)));
  io::write_file_atomically(folder.path() / kLoraExtractionReportFile, result.json());
  folder.commit();
  return result;
}

}  // namespace ladle::merge
