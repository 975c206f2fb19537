#include "callbacks/averaging_config.h"

#include <cmath>
#include <optional>
#include <set>
#include <sstream>

#include "callbacks/averaging_callbacks.h"
#include "callbacks/end_of_run_callbacks.h"
#include "lib/util/error.h"

namespace ladle::callbacks {
namespace {

struct EmaCallbackConfig {
  EmaOptions average;
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

// One JSON object read key by key: each accessor type-checks its key, and finish() rejects the keys nobody read.
class Section {
 public:
  Section(const nlohmann::json& json, std::string path, std::string source)
      : json_(json), path_(std::move(path)), source_(std::move(source)) {
    if (!json_.is_object()) fail(path_, "expected a mapping of keys, got " + json_.dump());
  }

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw Error((source_.empty() ? "" : source_ + ": ") + key + ": " + message);
  }

  const nlohmann::json* find(const std::string& key) {
    read_.insert(key);
    const auto found = json_.find(key);
    return found == json_.end() || found->is_null() ? nullptr : &*found;
  }

  double number(const std::string& key, double fallback, double min, double max) {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->is_number() || !std::isfinite(value->get<double>()) || value->get<double>() < min ||
        value->get<double>() > max) {
      fail(path_ + "." + key, "expected a number in [" + number_text(min) + ", " + number_text(max) + "], got " +
                                  value->dump());
    }
    return value->get<double>();
  }

  std::int64_t integer(const std::string& key, std::int64_t fallback, std::int64_t min) {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->is_number_integer() || value->get<std::int64_t>() < min) {
      fail(path_ + "." + key, "expected an integer >= " + std::to_string(min) + ", got " + value->dump());
    }
    return value->get<std::int64_t>();
  }

  bool boolean(const std::string& key, bool fallback) {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) fail(path_ + "." + key, "expected true or false, got " + value->dump());
    return value->get<bool>();
  }

  std::string text(const std::string& key, const std::string& fallback) {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->is_string()) fail(path_ + "." + key, "expected a string, got " + value->dump());
    return value->get<std::string>();
  }

  std::vector<double> numbers(const std::string& key, const std::vector<double>& fallback) {
    const nlohmann::json* value = find(key);
    if (value == nullptr) return fallback;
    std::vector<double> result;
    if (value->is_array() && !value->empty()) {
      for (const auto& item : *value) {
        if (!item.is_number() || !std::isfinite(item.get<double>())) break;
        result.push_back(item.get<double>());
      }
    }
    if (result.empty() || result.size() != value->size()) {
      fail(path_ + "." + key, "expected a non-empty list of numbers, got " + value->dump());
    }
    return result;
  }

  // A value parsed by `parse` (which throws ladle::Error for a bad one), reported under this key.
  template <typename Parse>
  auto parsed(const std::string& key, const std::string& fallback, const Parse& parse) {
    const std::string value = text(key, fallback);
    try {
      return parse(value);
    } catch (const Error& error) {
      fail(path_ + "." + key, error.what());
    }
  }

  void finish() const {
    for (const auto& item : json_.items()) {
      if (read_.count(item.key()) == 0) {
        std::string known;
        for (const auto& key : read_) known += (known.empty() ? "" : ", ") + key;
        fail(path_ + "." + item.key(), "unknown key (known: " + known + ")");
      }
    }
  }

  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }

 private:
  static std::string number_text(double value) {
    std::ostringstream text;
    text << value;
    return text.str();
  }

  const nlohmann::json& json_;
  std::string path_;
  std::string source_;
  std::set<std::string> read_;
};

constexpr double kHuge = 1e300;

std::filesystem::path resolved(const std::string& path, const std::filesystem::path& base_dir) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return base_dir / path;
}

StepSchedule read_schedule(Section& section) {
  StepSchedule schedule;
  schedule.start_step = section.integer("start_step", schedule.start_step, 0);
  schedule.every = section.integer("every", schedule.every, 1);
  return schedule;
}

AveragingCallbackOptions read_callback_options(Section& section) {
  AveragingCallbackOptions options;
  options.evaluate = section.boolean("evaluate", options.evaluate);
  options.save_model = section.boolean("save_model", options.save_model);
  return options;
}

std::optional<EmaCallbackConfig> read_ema(Section& section) {
  EmaCallbackConfig config;
  EmaOptions& ema = config.average;
  const bool enabled = section.boolean("enabled", true);
  ema.decay = section.number("decay", ema.decay, 0.0, 1.0);
  ema.warmup = section.boolean("warmup", ema.warmup);
  ema.warmup_gamma = section.number("warmup_gamma", ema.warmup_gamma, 1e-300, kHuge);
  ema.warmup_power = section.number("warmup_power", ema.warmup_power, 1e-300, kHuge);
  ema.min_decay = section.number("min_decay", ema.min_decay, 0.0, ema.decay);
  ema.schedule = read_schedule(section);
  ema.buffers = section.parsed("buffers", buffer_mode_name(ema.buffers), parse_buffer_mode);
  ema.offload_to_cpu = section.boolean("offload_to_cpu", ema.offload_to_cpu);
  config.callback = read_callback_options(section);
  section.finish();
  return enabled ? std::optional<EmaCallbackConfig>(config) : std::nullopt;
}

std::optional<SwaCallbackConfig> read_swa(Section& section) {
  SwaCallbackConfig config;
  const bool enabled = section.boolean("enabled", true);
  config.average.schedule = read_schedule(section);
  config.average.buffers = section.parsed("buffers", buffer_mode_name(config.average.buffers), parse_buffer_mode);
  config.callback = read_callback_options(section);
  if (const nlohmann::json* lr = section.find("lr")) {
    Section lr_section(*lr, section.path() + ".lr", section.source());
    SwaLrOptions options;
    options.swa_lr = lr_section.number("swa_lr", options.swa_lr, 1e-300, kHuge);
    options.anneal_steps = lr_section.integer("anneal_steps", options.anneal_steps, 0);
    options.anneal = lr_section.parsed("anneal", "cos", parse_swa_anneal);
    lr_section.finish();
    config.lr = options;
  }
  section.finish();
  return enabled ? std::optional<SwaCallbackConfig>(config) : std::nullopt;
}

std::optional<LawaCallbackConfig> read_lawa(Section& section, const std::filesystem::path& base_dir) {
  LawaCallbackConfig config;
  LawaOptions& lawa = config.average;
  const bool enabled = section.boolean("enabled", true);
  lawa.k = section.integer("k", lawa.k, 1);
  lawa.schedule = read_schedule(section);
  lawa.storage = section.parsed("storage", snapshot_storage_name(lawa.storage), parse_snapshot_storage);
  lawa.directory = resolved(section.text("directory", ""), base_dir);
  lawa.buffers = section.parsed("buffers", buffer_mode_name(lawa.buffers), parse_buffer_mode);
  config.callback = read_callback_options(section);
  section.finish();
  return enabled ? std::optional<LawaCallbackConfig>(config) : std::nullopt;
}

std::optional<SoupCallbackOptions> read_soup(Section& section) {
  SoupCallbackOptions soup;
  const bool enabled = section.boolean("enabled", true);
  soup.greedy = section.boolean("greedy", soup.greedy);
  soup.metric = section.text("metric", soup.metric);
  soup.include_checkpoints = section.boolean("include_checkpoints", soup.include_checkpoints);
  soup.include_averages = section.boolean("include_averages", soup.include_averages);
  section.finish();
  return enabled ? std::optional<SoupCallbackOptions>(soup) : std::nullopt;
}

std::optional<WiseFtCallbackOptions> read_wise_ft(Section& section, const std::filesystem::path& base_dir) {
  WiseFtCallbackOptions wise_ft;
  const bool enabled = section.boolean("enabled", true);
  wise_ft.alphas = section.numbers("alphas", wise_ft.alphas);
  wise_ft.shifted = resolved(section.text("shifted", ""), base_dir);
  wise_ft.select_metric = section.text("select_metric", wise_ft.select_metric);
  wise_ft.shifted_evaluation.max_examples = static_cast<std::size_t>(
      section.integer("max_examples", static_cast<std::int64_t>(wise_ft.shifted_evaluation.max_examples), 0));
  section.finish();
  return enabled ? std::optional<WiseFtCallbackOptions>(wise_ft) : std::nullopt;
}

// The spec's options as a section named by its `where`: "train.yml:7: averaging.ema" reads as the key
// "averaging.ema" of source "train.yml:7" (a key has no ": ", so the last one separates them).
Section section_of(const trainer::CallbackSpec& spec) {
  const std::size_t split = spec.where.rfind(": ");
  if (split == std::string::npos) return Section(spec.options, spec.where, "");
  return Section(spec.options, spec.where.substr(split + 2), spec.where.substr(0, split));
}

// The callback `make` builds from what `read` reads of the spec's options, or null when they turn it off.
template <typename Read, typename Make>
std::shared_ptr<trainer::Callback> made_if_enabled(const trainer::CallbackSpec& spec, const Read& read,
                                                   const Make& make) {
  Section section = section_of(spec);
  const auto config = read(section);
  if (!config) return nullptr;
  return make(*config);
}

}  // namespace

std::shared_ptr<trainer::Callback> make_ema_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, read_ema, [](const EmaCallbackConfig& config) {
    return std::make_shared<EmaCallback>(config.average, config.callback);
  });
}

std::shared_ptr<trainer::Callback> make_swa_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, read_swa, [](const SwaCallbackConfig& config) {
    return std::make_shared<SwaCallback>(config.average, config.lr, config.callback);
  });
}

std::shared_ptr<trainer::Callback> make_lawa_callback(const trainer::CallbackSpec& spec) {
  const auto read = [&](Section& section) { return read_lawa(section, spec.base_dir); };
  return made_if_enabled(spec, read, [](const LawaCallbackConfig& config) {
    return std::make_shared<LawaCallback>(config.average, config.callback);
  });
}

std::shared_ptr<trainer::Callback> make_soup_callback(const trainer::CallbackSpec& spec) {
  return made_if_enabled(spec, read_soup,
                         [](const SoupCallbackOptions& options) { return std::make_shared<SoupCallback>(options); });
}

std::shared_ptr<trainer::Callback> make_wise_ft_callback(const trainer::CallbackSpec& spec) {
  const auto read = [&](Section& section) { return read_wise_ft(section, spec.base_dir); };
  return made_if_enabled(spec, read,
                         [](const WiseFtCallbackOptions& options) { return std::make_shared<WiseFtCallback>(options); });
}

}  // namespace ladle::callbacks
