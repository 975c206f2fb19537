#include "callbacks/averaging_config.h"

#include <cmath>
#include <set>
#include <sstream>

#include "lib/util/error.h"

namespace ladle::callbacks {
namespace {

// One JSON object read key by key: each accessor type-checks its key, and finish() rejects the keys nobody read.
class Section {
 public:
  Section(const nlohmann::json& json, std::string path, std::string source)
      : json_(json), path_(std::move(path)), source_(std::move(source)) {
    if (!json_.is_object()) fail(path_, "expected a mapping of keys, got " + json_.dump());
  }

  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw Error(source_ + ": " + key + ": " + message);
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

nlohmann::json schedule_json(const StepSchedule& schedule) {
  return {{"start_step", schedule.start_step}, {"every", schedule.every}};
}

nlohmann::json callback_json(const AveragingCallbackOptions& options) {
  return {{"evaluate", options.evaluate}, {"save_model", options.save_model}};
}

}  // namespace

AveragingConfig AveragingConfig::from_json(const nlohmann::json& section, const std::string& source,
                                           const std::filesystem::path& base_dir) {
  AveragingConfig config;
  if (section.is_null()) return config;
  Section averaging(section, "averaging", source);
  if (const nlohmann::json* ema = averaging.find("ema")) {
    Section ema_section(*ema, "averaging.ema", source);
    config.ema = read_ema(ema_section);
  }
  if (const nlohmann::json* swa = averaging.find("swa")) {
    Section swa_section(*swa, "averaging.swa", source);
    config.swa = read_swa(swa_section);
  }
  if (const nlohmann::json* lawa = averaging.find("lawa")) {
    Section lawa_section(*lawa, "averaging.lawa", source);
    config.lawa = read_lawa(lawa_section, base_dir);
  }
  if (const nlohmann::json* soup = averaging.find("soup")) {
    Section soup_section(*soup, "averaging.soup", source);
    config.soup = read_soup(soup_section);
  }
  if (const nlohmann::json* wise_ft = averaging.find("wise_ft")) {
    Section wise_ft_section(*wise_ft, "averaging.wise_ft", source);
    config.wise_ft = read_wise_ft(wise_ft_section, base_dir);
  }
  averaging.finish();
  return config;
}

nlohmann::json AveragingConfig::to_json() const {
  nlohmann::json json = nlohmann::json::object();
  if (ema) {
    const EmaOptions& o = ema->average;
    json["ema"] = {{"decay", o.decay},
                   {"warmup", o.warmup},
                   {"warmup_gamma", o.warmup_gamma},
                   {"warmup_power", o.warmup_power},
                   {"min_decay", o.min_decay},
                   {"buffers", buffer_mode_name(o.buffers)},
                   {"offload_to_cpu", o.offload_to_cpu}};
    json["ema"].update(schedule_json(o.schedule));
    json["ema"].update(callback_json(ema->callback));
  }
  if (swa) {
    json["swa"] = {{"buffers", buffer_mode_name(swa->average.buffers)}};
    json["swa"].update(schedule_json(swa->average.schedule));
    json["swa"].update(callback_json(swa->callback));
    if (swa->lr) {
      json["swa"]["lr"] = {{"swa_lr", swa->lr->swa_lr},
                           {"anneal_steps", swa->lr->anneal_steps},
                           {"anneal", swa->lr->anneal == SwaAnneal::cosine ? "cos" : "linear"}};
    }
  }
  if (lawa) {
    const LawaOptions& o = lawa->average;
    json["lawa"] = {{"k", o.k},
                    {"storage", snapshot_storage_name(o.storage)},
                    {"directory", o.directory.string()},
                    {"buffers", buffer_mode_name(o.buffers)}};
    json["lawa"].update(schedule_json(o.schedule));
    json["lawa"].update(callback_json(lawa->callback));
  }
  if (soup) {
    json["soup"] = {{"greedy", soup->greedy},
                    {"metric", soup->metric},
                    {"include_checkpoints", soup->include_checkpoints},
                    {"include_averages", soup->include_averages}};
  }
  if (wise_ft) {
    json["wise_ft"] = {{"alphas", wise_ft->alphas},
                       {"shifted", wise_ft->shifted.string()},
                       {"select_metric", wise_ft->select_metric},
                       {"max_examples", wise_ft->shifted_evaluation.max_examples}};
  }
  return json;
}

std::vector<std::shared_ptr<trainer::Callback>> make_averaging_callbacks(const AveragingConfig& config) {
  std::vector<std::shared_ptr<trainer::Callback>> callbacks;
  if (config.ema) callbacks.push_back(std::make_shared<EmaCallback>(config.ema->average, config.ema->callback));
  if (config.swa) {
    callbacks.push_back(std::make_shared<SwaCallback>(config.swa->average, config.swa->lr, config.swa->callback));
  }
  if (config.lawa) callbacks.push_back(std::make_shared<LawaCallback>(config.lawa->average, config.lawa->callback));
  if (config.soup) callbacks.push_back(std::make_shared<SoupCallback>(*config.soup));
  if (config.wise_ft) callbacks.push_back(std::make_shared<WiseFtCallback>(*config.wise_ft));
  return callbacks;
}

}  // namespace ladle::callbacks
