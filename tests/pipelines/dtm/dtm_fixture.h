// DtmFixture: a temporary folder with a tiny base model (a tiny Llama over the byte tokenizer), 24 training and 8
// held-out instruction records, and a dtm.yml over them with K = 2 and 8 steps: `ladle dtm` end to end in seconds.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/causal_lm_factory.h"
#include "lib/util/error.h"
#include "pipelines/dtm/dtm_config.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "tests/support/test_helpers.h"
#include "tests/support/tiny_run.h"

namespace ladle::dtm {

// The lines of a text file (the records of a JSONL).
inline std::size_t line_count(const std::filesystem::path& path) {
  const std::string text = ladle::testing::read_text_file(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A temporary folder with a tiny base model, training and held-out records, and a dtm.yml over them.
struct DtmFixture {
  std::filesystem::path dir;

  explicit DtmFixture(const std::string& label, const std::string& baselines, const std::string& extra_train = "")
      : dir(ladle::testing::make_temp_dir(label)) {
    model::save_causal_lm(*trainer::testing::tiny_model(), dir / "base");
    trainer::testing::write_jsonl(dir / "train.jsonl", trainer::testing::tiny_records(24));
    trainer::testing::write_jsonl(dir / "valid.jsonl", trainer::testing::tiny_records(8, 1000));
    std::ofstream(dir / "dtm.yml") << "output_dir: out\n"
                                      "total_steps: 8\n"
                                      "train:\n"
                                      "  batch_size: 2\n"
                                      "  threads: 1\n"
                                      "  log_every_steps: 1\n"
                                      "  model: {path: base}\n"
                                      "  tokenizer: {type: byte}\n"
                                      "  data: {train: train.jsonl, valid: valid.jsonl, max_length: 64}\n"
                                      "  evaluation: {max_examples: 4, generation_examples: 0}\n"
                                      "  checkpoint: {every_steps: 2, keep_last: 0}\n"
                                   << extra_train
                                   << "embed: {max_length: 32, batch_size: 8, bf16: false}\n"
                                      "cluster: {k: 2, iterations: 5}\n"
                                      "evaluation: {valid: valid.jsonl, max_examples: 8, generation_examples: 2, "
                                      "batch_size: 8, bf16: false}\n"
                                      "baselines: "
                                   << baselines << "\n";
  }
  ~DtmFixture() { std::filesystem::remove_all(dir); }

  std::filesystem::path out(const std::string& part) const { return dir / "out" / part; }

  ladle::testing::CommandResult dtm(const std::vector<std::string>& options = {}) const {
    std::vector<std::string> args = {"--threads", "1", "dtm", "--config", (dir / "dtm.yml").string()};
    args.insert(args.end(), options.begin(), options.end());
    return ladle::testing::run_ladle(args);
  }

  nlohmann::json run_record(const std::string& run) const {
    return nlohmann::json::parse(ladle::testing::read_text_file(out("runs/" + run + "/dtm-run.json")));
  }
};

// The error reading `text` as a dtm.yml in the fixture's folder (in this process) gives, or "(accepted)".
inline std::string dtm_config_error(const DtmFixture& fixture, const std::string& text,
                                    const std::vector<std::string>& overrides = {}) {
  try {
    DtmConfig::from_yaml(text, "dtm.yml", fixture.dir, overrides);
  } catch (const Error& error) {
    return error.what();
  }
  return "(accepted)";
}

inline constexpr const char* kNoBaselines = "{vanilla: false, random_split: false, uniform_soup: false}";

}  // namespace ladle::dtm
