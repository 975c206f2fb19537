#include "trainer/builtin_callbacks.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "lib/io/atomic_file.h"
#include "lib/log/log.h"
#include "lib/util/error.h"
#include "lib/util/human_format.h"
#include "lib/util/string_affixes.h"
#include "trainer/checkpoint.h"
#include "trainer/train_state.h"

namespace ladle::trainer {
namespace {

std::string number(double value, int precision = 4) {
  std::ostringstream text;
  text << std::setprecision(precision) << value;
  return text.str();
}

double metric_or_nan(const Metrics& metrics, const std::string& name) {
  const auto found = metrics.find(name);
  return found == metrics.end() ? std::nan("") : found->second;
}

// "loss 2.31 lr 0.001 12.3k tok/s".
std::string training_status(const TrainState& state) {
  return "loss " + number(state.loss) + " lr " + number(metric_or_nan(state.metrics, "train/learning_rate"), 3) + " " +
         format_count(metric_or_nan(state.metrics, "train/tokens_per_second")) + " tok/s";
}

// The summary metrics (no per-task ones) of the latest evaluation: "eval/loss 2.1 eval/perplexity 8.2 ...".
std::string evaluation_summary(const TrainState& state) {
  std::string text;
  for (const auto& name : state.evaluation_metric_names) {
    const bool summary = std::count(name.begin(), name.end(), '/') == 1;
    if (!summary || name.substr(name.find('/')) == "/examples") continue;
    text += (text.empty() ? "" : " ") + name + " " + number(state.metrics.at(name));
  }
  return text;
}

}  // namespace

void ProgressCallback::on_event(Event event, TrainState& state) {
  if (!state.is_main_process()) return;
  switch (event) {
    case Event::train_begin: {
      start_ = std::chrono::steady_clock::now();
      start_step_ = state.step;
      ProgressOptions options;
      options.item_name = "steps";
      line_ =
          std::make_unique<ProgressLine>("train", static_cast<std::uint64_t>(state.max_steps - state.step), options);
      LADLE_LOG(info) << "training " << state.max_steps << " steps (" << state.steps_per_epoch << " per epoch)"
                      << (state.resumed ? " from step " + std::to_string(state.step) : std::string());
      break;
    }
    case Event::step_end: {
      if (!line_) break;
      line_->advance();
      line_->set_status(training_status(state));
      if (state.is_log_step()) {
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        const double per_step = elapsed / static_cast<double>(std::max<std::int64_t>(1, state.step - start_step_));
        LADLE_LOG(info) << "step " << state.step << "/" << state.max_steps << " epoch " << state.epoch << " "
                        << training_status(state) << " grad_norm " << number(state.grad_norm) << " ETA "
                        << format_duration(per_step * static_cast<double>(state.max_steps - state.step));
      }
      break;
    }
    case Event::after_evaluation:
      LADLE_LOG(info) << "evaluation at step " << state.step << ": " << evaluation_summary(state);
      if (line_) line_->set_status(training_status(state) + " | " + evaluation_summary(state));
      break;
    case Event::checkpoint_save:
      LADLE_LOG(info) << "checkpoint " << state.last_checkpoint.string();
      break;
    case Event::train_end:
      if (line_) line_->finish();
      break;
    default:
      break;
  }
}

void MetricsJsonlCallback::write(const std::string& line) {
  file_ << line << "\n";
  file_.flush();
  if (!file_) throw Error(path_.string() + ": cannot write");
}

void MetricsJsonlCallback::on_event(Event event, TrainState& state) {
  if (!state.is_main_process()) return;
  path_ = path_in(state.output_dir);
  const auto& path = path_;
  switch (event) {
    case Event::checkpoint_load: {
      // Lines after the checkpoint's step belong to the interrupted continuation, which the resumed run redoes.
      std::ifstream in(path);
      std::string kept, line;
      while (std::getline(in, line)) {
        try {
          const auto json = nlohmann::json::parse(line);
          if (json.at("step").get<std::int64_t>() > state.step) continue;
        } catch (const nlohmann::json::exception&) {
          continue;  // a line cut by the interruption
        }
        kept += line + "\n";
      }
      io::write_file_atomically(path, kept);
      break;
    }
    case Event::train_begin:
      std::filesystem::create_directories(state.output_dir);
      file_.open(path, state.resumed ? std::ios::app : std::ios::trunc);
      if (!file_) throw Error(path.string() + ": cannot open for writing");
      break;
    case Event::step_end:
      if (state.is_log_step()) {
        nlohmann::json json = {
            {"kind", "train"}, {"step", state.step}, {"epoch", state.epoch}, {"tokens", state.tokens}};
        for (const auto& [name, value] : state.metrics) {
          if (starts_with(name, "train/")) json[name] = value;
        }
        write(json.dump());
      }
      break;
    case Event::after_evaluation: {
      nlohmann::json json = {{"kind", "eval"}, {"step", state.step}, {"epoch", state.epoch}};
      for (const auto& name : state.evaluation_metric_names) json[name] = state.metrics.at(name);
      write(json.dump());
      break;
    }
    case Event::train_end:
      file_.close();
      break;
    default:
      break;
  }
}

void CheckpointCallback::on_event(Event event, TrainState& state) {
  if (event == Event::step_end) {
    const bool periodic = policy_.every_steps > 0 && state.step % policy_.every_steps == 0;
    const bool last = policy_.at_end && state.step == state.max_steps;
    if (periodic || last) state.request_checkpoint();
  } else if (event == Event::checkpoint_save && state.is_main_process()) {
    prune_checkpoints(state.output_dir, policy_.keep_last);
  }
}

}  // namespace ladle::trainer
