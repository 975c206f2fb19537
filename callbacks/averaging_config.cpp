#include "callbacks/averaging_config.h"

#include <cmath>
#include <optional>
#include <regex>
#include <set>

#include "callbacks/averaging_callbacks.h"
#include "callbacks/end_of_run_callbacks.h"
#include "callbacks/parameter_filter.h"
#include "callbacks/posthoc_ema_callback.h"
#include "callbacks/power_ema.h"
#include "lib/config/config_source.h"
#include "lib/config/schema.h"
#include "lib/config/yaml_value.h"
#include "lib/io/safetensors_writer.h"
#include "lib/util/error.h"

namespace ladle::callbacks {
namespace {

using config::above;
using config::at_least;
using config::Choices;
using config::ConfigSource;
using config::CustomValue;
using merge::kSeriesWeightingSyntax;
using config::in_closed;
using config::Schema;

// One EMA as a config gives it: besides EmaOptions, a name and the other ways of giving its decay (at most one of
// decay, half_life_steps, sigma_rel, gamma).
struct EmaCallbackConfig {
  std::string name;
  EmaOptions average;
  std::optional<double> half_life_steps;
  std::optional<double> sigma_rel;
  std::optional<double> gamma;
  AveragingCallbackOptions callback;
};

struct SwaCallbackConfig {
  SwaOptions average;
  std::optional<SwaLrOptions> lr;  // SWALR's learning-rate phase, when given
  AveragingCallbackOptions callback;
};

struct LawaCallbackConfig {
  LawaOptions average;
  AveragingCallbackOptions callback;
};

// A type's options with the key that turns it off again.
template <class Options>
struct Switchable {
  bool enabled = true;
  Options options;
};

template <class Options>
Schema<Switchable<Options>> switchable(const Schema<Options>& schema) {
  return Schema<Switchable<Options>>(schema.help())
      .field("enabled", &Switchable<Options>::enabled,
             "false turns the callback off (a sub-section that is present turns it on)")
      .keys_of(&Switchable<Options>::options, schema);
}

const Schema<StepSchedule>& step_schedule_schema() {
  static const auto schema =
      Schema<StepSchedule>("When the average is updated (weight_average.h).")
          .field("start_step", &StepSchedule::start_step, at_least(0),
                 "the first optimizer step that may update it (steps count from 1, so with every > 1 start_step 0 "
                 "first updates at step `every` and start_step 1 at step 1); after the run's last step: an error "
                 "before training")
          .field("every", &StepSchedule::every, at_least(1), "optimizer steps between two updates");
  return schema;
}

const Choices<BufferMode>& buffer_modes() {
  static const Choices<BufferMode> modes = {{buffer_mode_name(BufferMode::average), BufferMode::average},
                                            {buffer_mode_name(BufferMode::copy), BufferMode::copy}};
  return modes;
}

constexpr const char* kBuffersHelp =
    "the module's floating-point buffers (BatchNorm statistics): averaged like the weights, or the live value at "
    "the latest update";

const Schema<AveragingCallbackOptions>& callback_options_schema() {
  static const auto schema = Schema<AveragingCallbackOptions>("What the callback does with its average.")
                                 .field("evaluate", &AveragingCallbackOptions::evaluate,
                                        "evaluate the averaged weights after every evaluation of the live ones")
                                 .field("save_model", &AveragingCallbackOptions::save_model,
                                        "write the averaged model to OUTPUT_DIR/<type>/ at train end")
                                 .field("include", &AveragingCallbackOptions::include,
                                        "regular expressions (Python's syntax, matched anywhere in the name): only the "
                                        "parameters and buffers named by one are averaged, the others keep their "
                                        "live value in the evaluated and written model (empty: all)")
                                 .field("exclude", &AveragingCallbackOptions::exclude,
                                        "regular expressions: the parameters and buffers named by one keep their live "
                                        "value");
  return schema;
}

const Schema<EmaOptions>& ema_options_schema() {
  static const auto schema =
      Schema<EmaOptions>("")
          .field("decay", &EmaOptions::decay, in_closed(0, 1),
                 "d in average <- d * average + (1 - d) * live, once warmed up")
          .field("warmup", &EmaOptions::warmup,
                 "timm's decay warm-up: d(t) = 1 - (1 + t/gamma)^(-power) clamped to [min_decay, decay], t counting "
                 "updates (not optimizer steps)")
          .field("warmup_gamma", &EmaOptions::warmup_gamma, above(0), "gamma of the warm-up")
          .field("warmup_power", &EmaOptions::warmup_power, above(0), "power of the warm-up")
          .field("min_decay", &EmaOptions::min_decay, in_closed(0, 1),
                 "lower clamp of the warmed-up decay; at most decay")
          .keys_of(&EmaOptions::schedule, step_schedule_schema())
          .choice("buffers", &EmaOptions::buffers, buffer_modes(), kBuffersHelp)
          .field("offload_to_cpu", &EmaOptions::offload_to_cpu,
                 "keep the average on the CPU and update it on a background thread");
  return schema;
}

const Schema<EmaCallbackConfig>& ema_schema() {
  static const auto schema =
      Schema<EmaCallbackConfig>(
          "A mapping, or a list of mappings each with a unique name (several EMAs, updated in one pass).")
          .field("name", &EmaCallbackConfig::name,
                 "[a-z0-9_-]+, required in a list: the EMA is written as OUTPUT_DIR/ema-<name>/ and evaluated as "
                 "ema-<name>/ (unnamed: ema/)")
          .keys_of(&EmaCallbackConfig::average, ema_options_schema())
          .field("half_life_steps", &EmaCallbackConfig::half_life_steps, above(0),
                 "instead of decay: optimizer steps after which a weight counts half, decay = 0.5^(every / "
                 "half_life_steps)")
          .field("sigma_rel", &EmaCallbackConfig::sigma_rel, above(0),
                 "instead of decay: EDM2's power-function EMA of this relative width (gamma from sigma_rel, "
                 "callbacks/power_ema.h)")
          .field("gamma", &EmaCallbackConfig::gamma, above(-1),
                 "instead of decay: EDM2's power-function EMA with this exponent, beta_t = (1 - 1/t)^(gamma+1)")
          .keys_of(&EmaCallbackConfig::callback, callback_options_schema());
  return schema;
}

const Schema<SwaLrOptions>& swa_lr_schema() {
  static const auto schema =
      Schema<SwaLrOptions>(
          "SWALR's learning-rate phase: from the rate at start_step, anneal to swa_lr over anneal_steps, then hold "
          "it (swa_lr_schedule.h). Off unless given.")
          .field("swa_lr", &SwaLrOptions::swa_lr, above(0), "the learning rate annealed to and then held")
          .field("anneal_steps", &SwaLrOptions::anneal_steps, at_least(0), "optimizer steps of the anneal")
          .choice("anneal", &SwaLrOptions::anneal,
                  Choices<SwaAnneal>{
                      {"cos", SwaAnneal::cosine}, {"cosine", SwaAnneal::cosine}, {"linear", SwaAnneal::linear}},
                  "the anneal's shape (SWALR's anneal_strategy)");
  return schema;
}

const Schema<SwaOptions>& swa_options_schema() {
  static const auto schema = Schema<SwaOptions>("")
                                 .keys_of(&SwaOptions::schedule, step_schedule_schema())
                                 .choice("buffers", &SwaOptions::buffers, buffer_modes(), kBuffersHelp);
  return schema;
}

const Schema<SwaCallbackConfig>& swa_schema() {
  static const auto schema = Schema<SwaCallbackConfig>("")
                                 .keys_of(&SwaCallbackConfig::average, swa_options_schema())
                                 .section("lr", &SwaCallbackConfig::lr, swa_lr_schema())
                                 .keys_of(&SwaCallbackConfig::callback, callback_options_schema());
  return schema;
}

// A value written as one string and read by `parse`, whose ladle::Error (what it expected) names the key's place.
template <class T>
CustomValue<T> parsed_text(const char* type, T (*parse)(const std::string&), nlohmann::json (*to_json)(const T&)) {
  return {type,
          [parse](const config::YamlValue& value) -> T {
            const std::string text = config::ValueType<std::string>::read(value, {});
            try {
              return parse(text);
            } catch (const Error& error) {
              value.fail(error.what());
            }
          },
          to_json};
}

// A checkpoint-series scheme as parse_series_weighting reads it ("sma", "ema:0.2", "wsm:cosine").
CustomValue<merge::SeriesWeighting> series_weighting() {
  return parsed_text<merge::SeriesWeighting>(kSeriesWeightingSyntax, merge::parse_series_weighting,
                                             [](const merge::SeriesWeighting& weighting) {
                                               return nlohmann::json(merge::series_weighting_name(weighting));
                                             });
}

const Schema<LawaOptions>& lawa_options_schema() {
  static const auto schema =
      Schema<LawaOptions>("")
          .field("k", &LawaOptions::k, at_least(1),
                 "snapshots averaged (fewer early in the run, which the log says); one is taken at every update")
          .keys_of(&LawaOptions::schedule, step_schedule_schema())
          .choice("storage", &LawaOptions::storage,
                  Choices<SnapshotStorage>{{snapshot_storage_name(SnapshotStorage::memory), SnapshotStorage::memory},
                                           {snapshot_storage_name(SnapshotStorage::disk), SnapshotStorage::disk}},
                  "memory: k copies of the weights on the model's device; disk: k files in directory")
          .field("directory", &LawaOptions::directory, "where disk storage keeps its files (required for disk)")
          .choice("buffers", &LawaOptions::buffers, buffer_modes(), kBuffersHelp)
          .custom("scheme", &LawaOptions::scheme, series_weighting(),
                  "how the snapshots are weighted, oldest first (lib/merge/checkpoint_series_weights.h): sma "
                  "uniform; ema:ALPHA alpha (1-alpha)^(n-i) normalised; wma proportional to i; wsm:SHAPE the "
                  "weights that emulate a decay (as `ladle merge-checkpoints`)");
  return schema;
}

const Schema<LawaCallbackConfig>& lawa_schema() {
  static const auto schema = Schema<LawaCallbackConfig>("")
                                 .keys_of(&LawaCallbackConfig::average, lawa_options_schema())
                                 .keys_of(&LawaCallbackConfig::callback, callback_options_schema());
  return schema;
}

// A byte count as parse_byte_size reads it ("20GB", "512MiB", "1000000").
CustomValue<std::uint64_t> byte_size() {
  return parsed_text<std::uint64_t>("a byte size (K, M, G, T binary; KB, MB, GB, TB decimal)", io::parse_byte_size,
                                    [](const std::uint64_t& bytes) { return nlohmann::json(bytes); });
}

const Schema<PosthocOptions>& posthoc_schema() {
  static const auto schema =
      Schema<PosthocOptions>(
          "Post-hoc EMA (EDM2): power EMAs of these widths, snapshotted to OUTPUT_DIR/posthoc/ for `ladle "
          "posthoc-ema`.")
          .field("sigma_rels", &PosthocOptions::sigma_rels, above(0),
                 "the relative widths of the power EMAs kept and snapshotted (each below about 0.28)")
          .field("every_steps", &PosthocOptions::every_steps, at_least(1),
                 "optimizer steps between two snapshots (the last step is always snapshotted)")
          .custom("budget", &PosthocOptions::budget_bytes, byte_size(),
                  "disk the run's snapshots may take; a run that would need more is refused before training");
  return schema;
}

const Schema<SoupCallbackOptions>& soup_schema() {
  static const auto schema =
      Schema<SoupCallbackOptions>("")
          .field("greedy", &SoupCallbackOptions::greedy,
                 "greedy soup scored on the held-out set (false: the uniform soup of all)")
          .field("metric", &SoupCallbackOptions::metric,
                 "the evaluation metric that scores it (loss, perplexity: lower wins)")
          .field("include_checkpoints", &SoupCallbackOptions::include_checkpoints,
                 "the kept checkpoints' models are candidates")
          .field("include_averages", &SoupCallbackOptions::include_averages,
                 "the averaged models written at train end (ema/, ema-NAME/, swa/, lawa/) are candidates");
  return schema;
}

const Schema<trainer::HeldOutEvaluationOptions>& shifted_evaluation_schema() {
  static const auto schema = Schema<trainer::HeldOutEvaluationOptions>("").field(
      "max_examples", &trainer::HeldOutEvaluationOptions::max_examples, "a seeded subset of the shifted set (0: all)");
  return schema;
}

const Schema<WiseFtCallbackOptions>& wise_ft_schema() {
  static const auto schema =
      Schema<WiseFtCallbackOptions>("")
          .field("alphas", &WiseFtCallbackOptions::alphas,
                 "the interpolation weights tried (0: the starting weights, 1: the final ones); at least one")
          .field("shifted", &WiseFtCallbackOptions::shifted,
                 "a shifted held-out instruction JSONL, evaluated as ood/ (empty: none)")
          .field("select_metric", &WiseFtCallbackOptions::select_metric,
                 "chooses the alpha written (losses: lowest; accuracies: highest)")
          .keys_of(&WiseFtCallbackOptions::shifted_evaluation, shifted_evaluation_schema());
  return schema;
}

// A spec's options as a schema reads them: its JSON under its key, in the config it was read from, so that each
// message names the line or the --set argument of its option (a spec built in C++ has no file: messages start
// with its key, and paths resolve against its base_dir).
class SpecOptions {
 public:
  explicit SpecOptions(const trainer::CallbackSpec& spec)
      : spec_(spec), built_in_code_("", "the training config", spec.base_dir) {}

  // The options (a mapping, or a list of them), as the config gave them.
  config::YamlValue value() const {
    return config::YamlValue{config::json_to_yaml(spec_.options), spec_.key, source()};
  }

  template <class S>
  S read(const Schema<S>& schema, const config::YamlValue& value) const {
    S options{};
    schema.read(value, options);
    return options;
  }
  template <class S>
  S read(const Schema<S>& schema) const {
    return read(schema, value());
  }

  // Throws "<where the option was given>: <key>.<name>: <message>", for a check across keys; `entry` is the key of
  // the mapping ("averaging.ema[1]"), the spec's own when empty.
  [[noreturn]] void fail(const std::string& name, const std::string& message, const std::string& entry = "") const {
    const std::string& key = entry.empty() ? spec_.key : entry;
    source().fail(key.empty() || name.empty() ? key + name : key + "." + name, message);
  }

 private:
  const ConfigSource& source() const { return spec_.source ? *spec_.source : built_in_code_; }

  const trainer::CallbackSpec& spec_;
  ConfigSource built_in_code_;
};

// The callback `make` builds from the options `schema` reads, or null when they turn it off.
template <class Options, class Make>
std::shared_ptr<trainer::Callback> made_if_enabled(const trainer::CallbackSpec& spec, const Schema<Options>& schema,
                                                   const Make& make) {
  static const auto with_switch = switchable(schema);
  const SpecOptions options(spec);
  const Switchable<Options> config = options.read(with_switch);
  if (!config.enabled) return nullptr;
  return make(config.options, options);
}

// A filter's patterns are checked when the config is read (`entry`: SpecOptions::fail).
void check_filter(const AveragingCallbackOptions& callback, const SpecOptions& options, const std::string& entry = "") {
  try {
    ParameterFilter(callback.include, callback.exclude);
  } catch (const Error& error) {
    options.fail(std::string(error.what()).rfind("include", 0) == 0 ? "include" : "exclude", error.what(), entry);
  }
}

// The EMA an entry (`entry` its key) describes, its decay given by exactly one key (decay by default).
NamedEma named_ema(const EmaCallbackConfig& config, const nlohmann::json& given, const SpecOptions& options,
                   const std::string& entry) {
  static const std::regex valid_name("[a-z0-9_-]+");
  if (!config.name.empty() && !std::regex_match(config.name, valid_name)) {
    options.fail("name", "expected [a-z0-9_-]+, got '" + config.name + "'", entry);
  }
  std::vector<std::string> decay_keys;
  for (const char* key : {"decay", "half_life_steps", "sigma_rel", "gamma"}) {
    if (given.contains(key)) decay_keys.push_back(key);
  }
  if (decay_keys.size() > 1) {
    options.fail(decay_keys[1],
                 "expected one of decay, half_life_steps, sigma_rel, gamma, got " + config::comma_list(decay_keys),
                 entry);
  }
  NamedEma ema{config.name, config.average, config.callback};
  if (config.half_life_steps) {
    ema.options.decay = std::pow(0.5, static_cast<double>(ema.options.schedule.every) / *config.half_life_steps);
  }
  if (config.gamma) ema.options.power_gamma = *config.gamma;
  if (config.sigma_rel) {
    try {
      ema.options.power_gamma = gamma_of_sigma_rel(*config.sigma_rel);
    } catch (const Error& error) {
      options.fail("sigma_rel", error.what(), entry);
    }
  }
  if (ema.options.power_gamma && ema.options.warmup) {
    options.fail("warmup", "expected false for a power-function EMA (" + decay_keys.front() + " given)", entry);
  }
  if (config.average.min_decay > ema.options.decay) {
    options.fail("min_decay",
                 "expected a number in [0, decay] = [0, " + config::number_text(ema.options.decay) + "], got " +
                     config::number_text(config.average.min_decay),
                 entry);
  }
  check_filter(config.callback, options, entry);
  return ema;
}

// `averaging.ema` as a mapping (one EMA) or a list of them (each named, names unique); entries with `enabled:
// false` are left out.
std::shared_ptr<trainer::Callback> make_ema_callback(const trainer::CallbackSpec& spec) {
  static const auto with_switch = switchable(ema_schema());
  const SpecOptions options(spec);
  const config::YamlValue value = options.value();
  std::vector<NamedEma> emas;
  if (!value.node.IsSequence()) {
    const Switchable<EmaCallbackConfig> config = options.read(with_switch, value);
    if (!config.enabled) return nullptr;
    emas.push_back(named_ema(config.options, spec.options, options, ""));
    return std::make_shared<EmaCallback>(std::move(emas));
  }
  if (value.node.size() == 0) options.fail("", "expected a mapping or a non-empty list of mappings, got []", spec.key);
  std::set<std::string> names;
  for (std::size_t i = 0; i < value.node.size(); ++i) {
    const config::YamlValue item = value.item(i);
    const Switchable<EmaCallbackConfig> config = options.read(with_switch, item);
    if (config.options.name.empty()) {
      options.fail("name", "a required key is missing (every EMA of a list has one)", item.key);
    }
    if (!names.insert(config.options.name).second) {
      options.fail("name", "expected a name no other EMA of the list has, got '" + config.options.name + "' again",
                   item.key);
    }
    if (config.enabled) emas.push_back(named_ema(config.options, spec.options.at(i), options, item.key));
  }
  if (emas.empty()) return nullptr;
  return std::make_shared<EmaCallback>(std::move(emas));
}

std::shared_ptr<trainer::Callback> make_swa_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, swa_schema(), [](const SwaCallbackConfig& config, const SpecOptions& options) {
    check_filter(config.callback, options);
    return std::make_shared<SwaCallback>(config.average, config.lr, config.callback);
  });
}

std::shared_ptr<trainer::Callback> make_lawa_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, lawa_schema(), [](const LawaCallbackConfig& config, const SpecOptions& options) {
    check_filter(config.callback, options);
    return std::make_shared<LawaCallback>(config.average, config.callback);
  });
}

std::shared_ptr<trainer::Callback> make_posthoc_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, posthoc_schema(), [](const PosthocOptions& options, const SpecOptions& spec_options) {
    if (options.sigma_rels.empty()) spec_options.fail("sigma_rels", "expected a non-empty list of numbers, got []");
    for (const double sigma_rel : options.sigma_rels) {
      try {
        gamma_of_sigma_rel(sigma_rel);
      } catch (const Error& error) {
        spec_options.fail("sigma_rels", error.what());
      }
    }
    return std::make_shared<PosthocEmaCallback>(options);
  });
}

std::shared_ptr<trainer::Callback> make_soup_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, soup_schema(), [](const SoupCallbackOptions& options, const SpecOptions&) {
    return std::make_shared<SoupCallback>(options);
  });
}

std::shared_ptr<trainer::Callback> make_wise_ft_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, wise_ft_schema(),
                         [](const WiseFtCallbackOptions& options, const SpecOptions& spec_options) {
                           if (options.alphas.empty())
                             spec_options.fail("alphas", "expected a non-empty list of numbers, got []");
                           return std::make_shared<WiseFtCallback>(options);
                         });
}

// The keys of a type's options under `prefix`, with `enabled` first (the schema made_if_enabled reads).
template <auto schema>
std::vector<config::KeyReference> reference_of(const std::string& prefix) {
  return switchable(schema()).reference(prefix);
}

}  // namespace

const std::vector<BuiltinCallbackType>& builtin_callback_types() {
  static const std::vector<BuiltinCallbackType> types = {
      {"ema", "exponential moving averages of the weights, classic or power-function (OUTPUT_DIR/ema/, ema-NAME/)",
       make_ema_callback, reference_of<ema_schema>},
      {"swa", "stochastic weight averaging, optionally with SWALR (OUTPUT_DIR/swa/)", make_swa_callback,
       reference_of<swa_schema>},
      {"lawa", "latest weight averaging: mean of the k latest snapshots (OUTPUT_DIR/lawa/)", make_lawa_callback,
       reference_of<lawa_schema>},
      {"posthoc", "power EMAs snapshotted for post-hoc EMA reconstruction (OUTPUT_DIR/posthoc/)", make_posthoc_callback,
       reference_of<posthoc_schema>},
      {"soup", "uniform or greedy soup of the final weights, checkpoints and averages at train end (OUTPUT_DIR/soup/)",
       make_soup_callback, reference_of<soup_schema>},
      {"wise_ft", "WiSE-FT sweep between the starting and final weights at train end (OUTPUT_DIR/wise_ft/)",
       make_wise_ft_callback, reference_of<wise_ft_schema>},
  };
  return types;
}

std::vector<config::KeyReference> averaging_reference(const std::string& prefix) {
  std::vector<config::KeyReference> keys;
  for (const auto& type : builtin_callback_types()) {
    const std::string key = prefix + "." + type.name;
    keys.push_back({key, "a section", "", nullptr, type.description, true});
    const auto type_keys = type.reference(key);
    keys.insert(keys.end(), type_keys.begin(), type_keys.end());
  }
  return keys;
}

}  // namespace ladle::callbacks
