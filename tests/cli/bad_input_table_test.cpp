// The bad-input table: every kind of bad input the `ladle` executable meets, each run through the real binary.
// A clean refusal is: the exit status the README promises (2 for a usage error, 1 for bad input), stderr exactly
// one line "ladle: error: ..." naming the file, key or tensor at fault, no crash, and the folder tree as it was
// (no output folder, no partial or lock file left). docs/bad-inputs.md is the table of classes and counts this
// file generates: `LADLE_WRITE_BAD_INPUTS_DOC=1 ladle_tests --gtest_filter='BadInputTableDocs.*'` rewrites it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/config/key_reference.h"
#include "lib/config/schema.h"
#include "lib/io/checkpoint_writer.h"
#include "pipelines/dtm/dtm_config.h"
#include "pipelines/evolve/evolve_config.h"
#include "tests/support/command_runner.h"
#include "tests/support/random_checkpoints.h"
#include "trainer/train_config.h"

namespace ladle::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One bad input. In args and file contents, {case} stands for the case's own folder and {shared} for the
// fixtures every case may read (see BadInputTable::SetUpTestSuite).
struct BadInput {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> files;  // written into {case} before the run (relative path -> bytes)
  std::map<std::string, std::string> copies;  // {case}/key <- {shared}/value (a folder or a file), before files
  std::vector<std::string> names;             // what the error line must name (a file, key or tensor)
  int exit_status = 1;                        // 2: a usage error
};

struct BadInputClass {
  std::string title;   // the table's row
  std::string covers;  // what kinds of input it tries
  std::vector<BadInput> cases;
};

// ---- inputs -------------------------------------------------------------------------------------------------

// A safetensors file: the 8-byte little-endian header length, the header, the data.
std::string safetensors_bytes(const std::string& header, const std::string& data, std::uint64_t length = 0) {
  std::uint64_t size = length != 0 ? length : header.size();
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((size >> (8 * i)) & 0xff);
  return bytes + header + data;
}

// A .npy file (format 1.0) of rows x cols little-endian float32 zeros: embeddings of the shared 8 records.
std::string npy_bytes(int rows, int cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');  // the data starts at a multiple of 64
  header += '\n';
  const std::string magic = "\x93NUMPY\x01\x00";
  const std::string length{static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  return magic + length + header + std::string(static_cast<std::size_t>(rows * cols * 4), '\0');
}

// The tiny model of the train fixtures (byte tokenizer: 263 ids).
json tiny_config_json() {
  ladle::testing::RandomLlamaOptions options;
  options.layers = 1;
  options.vocab = 263;
  return ladle::testing::random_llama_config(options);
}

const char* const kGoodTrainYaml =
    "output_dir: out\nmax_steps: 1\nbatch_size: 2\nthreads: 1\n"
    "model:\n  config: {hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, "
    "max_position_embeddings: 128}\n"
    "tokenizer: {type: byte}\ndata: {format: instructions, train: train.jsonl}\n"
    "evaluation: {at_end: false}\ncheckpoint: {at_end: false}\n";

// `ladle train` of the shared good config with overrides (output_dir in the case's folder).
BadInput train_set(std::string name, std::vector<std::string> sets, std::vector<std::string> names) {
  BadInput input{std::move(name), {"--quiet", "train", "--config", "{shared}/good.yml", "--set", "output_dir={case}/out"},
                 {}, {}, std::move(names)};
  for (auto& set : sets) {
    input.args.push_back("--set");
    input.args.push_back(std::move(set));
  }
  return input;
}

// `ladle train` of a config file written into the case's folder.
BadInput train_yaml(std::string name, std::string yaml, std::vector<std::string> names) {
  return {std::move(name), {"--quiet", "train", "--config", "{case}/train.yml"}, {{"train.yml", std::move(yaml)}}, {},
          std::move(names)};
}

// `ladle train` from the tiny model folder {case}/model (a copy of the shared one) with the byte tokenizer, the
// model's files replaced by `files`.
BadInput train_model(std::string name, std::map<std::string, std::string> files, std::vector<std::string> names) {
  BadInput input = train_set(std::move(name), {"model.config=null", "model.path={case}/model"}, std::move(names));
  input.copies = {{"model", "model"}};
  input.files = std::move(files);
  return input;
}

// A value of the wrong type for a key of this type, or "" when the generator has none.
std::string wrong_type_value(const std::string& type) {
  if (type == "true or false") return "maybe";
  if (type.rfind("a whole number", 0) == 0) return "2.5";  // "a whole number", "... or a list of them"
  if (type == "a number") return "plenty";
  if (type.rfind("one of ", 0) == 0) return "no_such_choice";
  if (type.rfind("a list of", 0) == 0) return "{not: a list}";
  if (type == "a string" || type == "a path") return "{not: a string}";
  return "";
}

// A value just outside a declared range (">= 1", "> 0", "<= 8", "in [0, 1)"), or "" when unbounded.
std::string out_of_range_value(const std::string& allowed) {
  auto number = [](const std::string& text) { return std::stod(text); };
  auto show = [](double value) {
    std::ostringstream out;
    out << value;
    return out.str();
  };
  if (allowed.rfind(">= ", 0) == 0) return show(number(allowed.substr(3)) - 1);
  if (allowed.rfind("> ", 0) == 0) return allowed.substr(2);
  if (allowed.rfind("<= ", 0) == 0) return show(number(allowed.substr(3)) + 1);
  if (allowed.rfind("< ", 0) == 0) return allowed.substr(2);
  if (allowed.rfind("in ", 0) == 0) {
    const std::size_t comma = allowed.find(',');
    const std::string upper = allowed.substr(comma + 2, allowed.size() - comma - 3);
    if (upper == "inf") return show(number(allowed.substr(4, comma - 4)) - 1);
    return allowed.back() == ']' ? show(number(upper) + 1) : upper;
  }
  return "";
}

// Every key of a config reference with a wrong-type value, and with an out-of-range one where it has a range.
void add_schema_cases(BadInputClass& table, const std::vector<config::KeyReference>& keys,
                      const std::function<BadInput(std::string, std::string, std::string)>& make) {
  for (const auto& key : keys) {
    if (key.section) continue;
    if (const std::string value = wrong_type_value(key.type); !value.empty()) {
      table.cases.push_back(make(key.key + ": wrong type", key.key, value));
    }
    if (const std::string value = out_of_range_value(key.allowed); !value.empty()) {
      table.cases.push_back(make(key.key + ": " + value + " outside " + key.allowed, key.key, value));
    }
  }
}

BadInputClass command_line() {
  BadInputClass table{"Command line", "unknown commands and options, missing and malformed arguments (exit status 2)",
                      {}};
  const std::vector<std::pair<std::string, std::vector<std::string>>> usage = {
      {"unknown command", {"frobnicate"}},
      {"misspelt command", {"mrege", "x"}},
      {"no command", {}},
      {"--threads not a number", {"--threads", "abc", "version"}},
      {"--log-level unknown", {"--log-level", "loud", "version"}},
      {"--log-file without its value", {"version", "--log-file"}},
      {"train without --config", {"train"}},
      {"train --config without its value", {"train", "--config"}},
      {"train with an unknown option", {"train", "--confg", "x.yml"}},
      {"soup of one model", {"soup", "OUT", "one-model"}},
      {"soup without models", {"soup"}},
      {"merge with an unknown option", {"merge", "--bogus", "x", "y"}},
      {"merge check without a config", {"merge", "check"}},
      {"merge --seed not a number", {"merge", "--seed", "abc", "x.yml", "out"}},
      {"inspect without a path", {"inspect"}},
      {"inspect with two paths", {"inspect", "a", "b"}},
      {"wise-ft with one model", {"wise-ft", "base"}},
      {"wise-ft --alpha not a number", {"wise-ft", "--alpha", "half", "a", "b", "out"}},
      {"tokenizer without a subcommand", {"tokenizer"}},
      {"tokenizer unknown subcommand", {"tokenizer", "frob"}},
      {"tokenizer encode without --model", {"tokenizer", "encode", "hello"}},
      {"tokenizer train without --input", {"tokenizer", "train", "--output", "t.model"}},
      {"tokenizer train --vocab-size not a number", {"tokenizer", "train", "--input", "a", "--output", "t.model",
                                                     "--vocab-size", "many"}},
      {"cluster without --data", {"cluster", "--model", "m", "--out", "o"}},
      {"cluster --k not a number", {"cluster", "--k", "four", "--data", "d", "--out", "o", "--model", "m"}},
      {"cluster --model and --embeddings", {"cluster", "--model", "m", "--embeddings", "e", "--data", "d", "--out", "o"}},
      {"dtm without --config", {"dtm"}},
      {"dtm --jobs not a number", {"dtm", "--config", "x.yml", "--jobs", "many"}},
      {"evolve without --config", {"evolve"}},
      {"evaluate without --data", {"evaluate", "m"}},
      {"evaluate --batch-size 0", {"evaluate", "m", "--data", "d.jsonl", "--batch-size", "0"}},
      {"evaluate --max-examples not a number", {"evaluate", "m", "--data", "d.jsonl", "--max-examples", "all"}},
      {"version with an argument", {"version", "extra"}},
  };
  for (const auto& [name, args] : usage) {
    BadInput input{name, args, {}, {}, {}, 2};
    table.cases.push_back(input);
  }
  return table;
}

BadInputClass train_config() {
  BadInputClass table{"Train config YAML",
                      "syntax errors, unknown keys, every key with a wrong type and out of its range, bad --set, "
                      "missing and contradictory keys",
                      {}};
  std::string good = kGoodTrainYaml;
  good.replace(good.find("train.jsonl"), 11, "'{shared}/train.jsonl'");
  table.cases = {
      train_yaml("tab indentation", "output_dir: out\nmodel:\n\tpath: m\n", {"train.yml"}),
      train_yaml("unclosed bracket", good + "lora: {enabled: true\n", {"train.yml"}),
      train_yaml("unterminated quote", "output_dir: \"out\n" + good, {"train.yml"}),
      train_yaml("bad indentation", "output_dir: out\n  max_steps: 1\n", {"train.yml"}),
      train_yaml("empty file", "", {"train.yml"}),
      train_yaml("a list at the top", "- output_dir: out\n", {"train.yml"}),
      train_yaml("a scalar at the top", "just some words\n", {"train.yml"}),
      train_yaml("duplicate key", good + "max_steps: 3\n", {"train.yml", "max_steps"}),
      train_yaml("misspelt top-level key", good + "max_step: 3\n", {"train.yml", "max_step"}),
      train_yaml("misspelt section", good + "optimiser: {lr: 0.1}\n", {"train.yml", "optimiser"}),
      train_yaml("averaging pattern not a regular expression", good + "averaging: {ema: {include: ['(']}}\n",
                 {"train.yml", "averaging.ema.include"}),
      // 20,000 nested groups: a stack overflow in std::regex's compiler before Oniguruma replaced it.
      train_yaml("averaging pattern nested 20,000 deep",
                 good + "averaging: {swa: {exclude: ['" + std::string(20000, '(') + std::string(20000, ')') + "']}}\n",
                 {"train.yml", "averaging.swa.exclude"}),
      train_yaml("misspelt nested key", good + "optimizer: {learning_rate: 0.1}\n", {"train.yml", "learning_rate"}),
      train_yaml("section given a scalar", good + "optimizer: adamw\n", {"train.yml", "optimizer"}),
      train_yaml("empty output_dir", "output_dir: ''\n" + good.substr(good.find('\n') + 1), {"output_dir"}),
      train_yaml("model path and config together", good + "model: {path: m, config: {hidden_size: 16}}\n", {"model"}),
      train_yaml("no model", "output_dir: out\nmax_steps: 1\ntokenizer: {type: byte}\ndata: {train: t.jsonl}\n",
                 {"model.path"}),
      train_yaml("no training data",
                 "output_dir: out\nmax_steps: 1\ntokenizer: {type: byte}\nmodel: {config: {hidden_size: 16}}\n",
                 {"data.train"}),
      train_yaml("unknown callback type", good + "callbacks: [{type: emma}]\n", {"emma"}),
      train_set("--set without '='", {"max_steps"}, {"max_steps"}),
      train_set("--set of an unknown key", {"max_stepz=3"}, {"max_stepz"}),
      train_set("--set with an empty key", {"=3"}, {"--set"}),
      train_set("--set of a section to a scalar", {"optimizer=fast"}, {"optimizer"}),
      train_set("--set with broken YAML", {"optimizer.betas=[0.9,"}, {"optimizer.betas"}),
      train_set("epochs and max_steps both 0", {"max_steps=0", "epochs=0"}, {"epochs"}),
      train_set("nesterov without momentum", {"optimizer.name=sgd", "optimizer.momentum=0", "optimizer.nesterov=true"},
                {"optimizer.nesterov"}),
      train_set("tokenizer file missing for a fresh model",
                {"tokenizer.type=sentencepiece", "tokenizer.path={case}/none.model"}, {"tokenizer.path"}),
  };
  add_schema_cases(table, trainer::train_config_schema().reference(),
                   [](std::string name, std::string key, std::string value) {
                     return train_set(std::move(name), {key + "=" + value}, {key});
                   });
  return table;
}

// The pipelines' configs: each key wrong in type and range, through --set over a minimal file.
BadInputClass pipeline_configs() {
  BadInputClass table{"DTM and evolve configs",
                      "syntax errors, unknown keys, every key with a wrong type and out of its range", {}};
  for (const std::string command : {"dtm", "evolve"}) {
    const std::string file = command + ".yml";
    table.cases.push_back({command + ": unknown key", {"--quiet", command, "--config", "{case}/" + file},
                           {{file, "output_dir: out\nfrobnicate: 3\n"}}, {}, {file, "frobnicate"}});
    table.cases.push_back({command + ": syntax error", {"--quiet", command, "--config", "{case}/" + file},
                           {{file, "output_dir: [out\n"}}, {}, {file}});
    table.cases.push_back({command + ": missing config file", {"--quiet", command, "--config", "{case}/none.yml"},
                           {}, {}, {"none.yml"}});
    table.cases.push_back({command + ": config is a folder", {"--quiet", command, "--config", "{shared}"}, {}, {},
                           {"shared"}});
    const auto keys = command == "dtm" ? dtm::dtm_config_schema().reference()
                                       : evolve::evolve_config_schema().reference();
    add_schema_cases(table, keys, [command, file](std::string name, std::string key, std::string value) {
      return BadInput{command + ": " + name,
                      {"--quiet", command, "--config", "{case}/" + file, "--set", key + "=" + value},
                      {{file, "output_dir: out\n"}},
                      {},
                      {key}};
    });
  }
  return table;
}

BadInputClass merge_configs() {
  BadInputClass table{"Merge YAML", "unknown methods and keys, wrong types, parameters out of range, models "
                                    "missing or unmergeable",
                      {}};
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"unknown method", "merge_method: linaer\nmodels: [{model: '{shared}/a', parameters: {weight: 1}}]\n"},
      {"unknown key", "merge_method: linear\nmodels:\n  - model: '{shared}/a'\n    weight: 1\n"},
      {"weight not a number", "merge_method: linear\nmodels:\n  - model: '{shared}/a'\n    parameters: {weight: heavy}\n"},
      {"density above 1", "merge_method: ties\nbase_model: '{shared}/b'\nmodels:\n"
                          "  - {model: '{shared}/a', parameters: {weight: 1, density: 1.5}}\n"},
      {"negative density", "merge_method: ties\nbase_model: '{shared}/b'\nmodels: [{model: '{shared}/a'}]\n"
                           "parameters: {weight: 1, density: -0.2}\n"},
      {"weight NaN", "merge_method: linear\nmodels: [{model: '{shared}/a', parameters: {weight: .nan}}]\n"},
      {"slerp without base", "merge_method: slerp\nmodels: [{model: '{shared}/a'}, {model: '{shared}/b'}]\n"
                             "parameters: {t: 0.5}\n"},
      {"missing model folder", "merge_method: linear\nmodels: [{model: '{case}/gone'}]\nparameters: {weight: 1}\n"},
      {"syntax error", "merge_method: linear\nmodels: [{model: a}\n"},
      {"empty file", ""},
      {"models not a list", "merge_method: linear\nmodels: a\n"},
      {"no models", "merge_method: linear\nparameters: {weight: 1}\n"},
      {"passthrough of two models", "merge_method: passthrough\nmodels: [{model: '{shared}/a'}, {model: '{shared}/b'}]\n"},
      {"layer range out of bounds", "merge_method: linear\nparameters: {weight: 1}\nslices:\n  - sources:\n"
                                    "      - {model: '{shared}/a', layer_range: [1, 3]}\n"},
      {"dtype unknown", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\nparameters: {weight: 1}\ndtype: float7\n"},
      {"tokenizer and tokenizer_source", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\n"
                                         "parameters: {weight: 1}\ntokenizer_source: base\ntokenizer: {source: union}\n"},
      {"tokenizer source a list", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\nparameters: {weight: 1}\n"
                                  "tokenizer: {source: [base]}\n"},
      {"token rule without source", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\nparameters: {weight: 1}\n"
                                    "tokenizer:\n  tokens:\n    <pad>: {force: true}\n"},
      {"token rule of an unknown kind", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\n"
                                        "parameters: {weight: 1}\ntokenizer:\n  tokens:\n    <pad>: {source: {kind: one}}\n"},
      {"pad_to_multiple_of 0", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\nparameters: {weight: 1}\n"
                               "tokenizer: {pad_to_multiple_of: 0}\n"},
      {"chat_template unknown name", "merge_method: linear\nmodels: [{model: '{shared}/a'}]\nparameters: {weight: 1}\n"
                                     "chat_template: vicuna\n"},
  };
  for (const auto& [name, yaml] : configs) {
    table.cases.push_back({name, {"--quiet", "merge", "{case}/merge.yml", "{case}/out"}, {{"merge.yml", yaml}}, {},
                           {"merge.yml"}});
  }
  return table;
}

BadInputClass data_files() {
  BadInputClass table{"Data files (JSONL)", "syntax, missing fields, wrong types, empty files, invalid UTF-8, "
                                            "folders and missing files, for data.train and data.valid",
                      {}};
  const std::vector<std::pair<std::string, std::string>> records = {
      {"not JSON", "{\"instruction\": \"a\", \"output\": \"b\"}\nthis is not json\n"},
      {"truncated record", "{\"instruction\": \"a\", \"output\": \"b\"}\n{\"instruction\": \"a\", \"out"},
      {"an array, not an object", "[\"a\", \"b\"]\n"},
      {"no output field", "{\"instruction\": \"a\"}\n"},
      {"no instruction or messages", "{\"output\": \"b\"}\n"},
      {"instruction a number", "{\"instruction\": 3, \"output\": \"b\"}\n"},
      {"output a list", "{\"instruction\": \"a\", \"output\": [\"b\"]}\n"},
      {"messages not a list", "{\"messages\": \"hi\"}\n"},
      {"message without role", "{\"messages\": [{\"content\": \"hi\"}]}\n"},
      {"unknown role", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}\n"},
      {"empty file", ""},
      {"only blank lines", "\n\n   \n"},
      {"invalid UTF-8", "{\"instruction\": \"caf\xe9\", \"output\": \"b\"}\n"},
      {"a NUL byte", std::string("{\"instruction\": \"a\0\", \"output\": \"b\"}\n", 37)},
      {"task a number", "{\"instruction\": \"a\", \"output\": \"b\", \"task\": 7}\n"},
  };
  for (const auto& [name, text] : records) {
    table.cases.push_back(
        train_set("data.train: " + name, {"data.train={case}/bad.jsonl"}, {"bad.jsonl"}));
    table.cases.back().files = {{"bad.jsonl", text}};
  }
  for (const std::string key : {"data.train", "data.valid"}) {
    table.cases.push_back(train_set(key + ": a folder", {key + "={case}/folder"}, {key, "folder"}));
    table.cases.back().files = {{"folder/x", ""}};
    table.cases.push_back(train_set(key + ": missing", {key + "={case}/none.jsonl"}, {key, "none.jsonl"}));
  }
  table.cases.push_back(train_set("data.valid: not JSON", {"data.valid={case}/bad.jsonl"}, {"bad.jsonl"}));
  table.cases.back().files = {{"bad.jsonl", "nope\n"}};
  table.cases.push_back(
      train_set("text corpus empty", {"data.format=text", "data.train={case}/corpus.txt"}, {"corpus.txt"}));
  table.cases.back().files = {{"corpus.txt", ""}};
  return table;
}

// `ladle evaluate` of the shared tiny model (byte tokenizer) with these arguments after it.
BadInput evaluate_args(std::string name, std::vector<std::string> args, std::vector<std::string> names) {
  BadInput input{std::move(name), {"--quiet", "evaluate", "--tokenizer", "byte", "--output", "{case}/scores.jsonl"},
                 {}, {}, std::move(names)};
  input.args.insert(input.args.end(), args.begin(), args.end());
  return input;
}

BadInputClass evaluate_inputs() {
  BadInputClass table{"ladle evaluate", "missing and malformed held-out data, missing model folders, bad labels", {}};
  table.cases = {
      evaluate_args("--data missing", {"{shared}/model", "--data", "{case}/none.jsonl"}, {"none.jsonl"}),
      evaluate_args("--data a folder", {"{shared}/model", "--data", "{shared}/model"}, {"model"}),
      evaluate_args("--data not JSON", {"{shared}/model", "--data", "{case}/bad.jsonl"}, {"bad.jsonl"}),
      evaluate_args("model folder missing", {"{case}/nowhere", "--data", "{shared}/train.jsonl"}, {"nowhere"}),
      evaluate_args("model folder without config.json", {"{case}/empty", "--data", "{shared}/train.jsonl"},
                    {"empty", "config.json"}),
      evaluate_args("--label without NAME=", {"--label", "{shared}/model", "--data", "{shared}/train.jsonl"},
                    {"--label", "NAME=DIR"}),
      evaluate_args("a label given twice", {"--label", "a={shared}/model", "--label", "a={shared}/sharded", "--data",
                                            "{shared}/train.jsonl"}, {"'a'"}),
      evaluate_args("no model", {"--data", "{shared}/train.jsonl"}, {"no model folder"}),
  };
  table.cases[2].files = {{"bad.jsonl", "nope\n"}};
  table.cases[4].files = {{"empty/README", ""}};
  return table;
}

BadInputClass model_configs() {
  BadInputClass table{"config.json", "not JSON, missing or wrong-type keys, absurd and inconsistent sizes", {}};
  const json good = tiny_config_json();
  auto edited = [&good](const std::string& key, const json& value) {
    json config = good;
    if (value.is_discarded()) {
      config.erase(key);
    } else {
      config[key] = value;
    }
    return config.dump(1);
  };
  const json missing = json(json::value_t::discarded);
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"hidden_size missing", "hidden_size", edited("hidden_size", missing)},
      {"intermediate_size missing", "intermediate_size", edited("intermediate_size", missing)},
      {"num_hidden_layers missing", "num_hidden_layers", edited("num_hidden_layers", missing)},
      {"vocab_size missing", "vocab_size", edited("vocab_size", missing)},
      {"hidden_size a word", "hidden_size", edited("hidden_size", "sixteen")},
      {"hidden_size negative", "hidden_size", edited("hidden_size", -16)},
      {"hidden_size absurd", "hidden_size", edited("hidden_size", 1e15)},
      {"num_hidden_layers 0", "num_hidden_layers", edited("num_hidden_layers", 0)},
      {"vocab_size 0", "vocab_size", edited("vocab_size", 0)},
      {"heads not dividing hidden_size", "num_attention_heads", edited("num_attention_heads", 3)},
      {"kv heads not dividing heads", "num_key_value_heads", edited("num_key_value_heads", 3)},
      {"rms_norm_eps a string", "rms_norm_eps", edited("rms_norm_eps", "small")},
      {"unknown model_type", "model_type", edited("model_type", "frobnet")},
      {"architectures not a list", "architectures", edited("architectures", 5)},
      {"not JSON", "config.json", "{\"hidden_size\": 16,"},
      {"an array", "config.json", "[1, 2]"},
      {"empty", "config.json", ""},
  };
  for (const auto& [name, key, text] : cases) {
    table.cases.push_back(train_model(name, {{"model/config.json", text}}, {key}));
  }
  return table;
}

BadInputClass safetensors_files() {
  BadInputClass table{"safetensors files", "truncated files, header lies, overlapping and out-of-range offsets, "
                                           "dtype and shape mismatches, tensors that disagree with config.json, NaN",
                      {}};
  const std::string data(64, '\x01');
  auto header = [](const json& tensors) { return tensors.dump(); };
  const json one = {{"w", {{"dtype", "F32"}, {"shape", {4, 4}}, {"data_offsets", {0, 64}}}}};
  auto with = [&one](const std::string& field, const json& value) {
    json h = one;
    h["w"][field] = value;
    return h.dump();
  };
  const std::vector<std::pair<std::string, std::string>> files = {
      {"empty file", ""},
      {"shorter than the length field", "abcd"},
      {"header length past the end", safetensors_bytes(header(one), data, 1 << 20)},
      {"header length absurd", safetensors_bytes(header(one), data, 1ull << 62)},
      {"header not JSON", safetensors_bytes("{\"w\": [", data)},
      {"header an array", safetensors_bytes("[1, 2, 3]", data)},
      {"truncated data", safetensors_bytes(header(one), data.substr(0, 40))},
      {"offsets past the data", safetensors_bytes(with("data_offsets", {0, 128}), data)},
      {"offsets reversed", safetensors_bytes(with("data_offsets", {64, 0}), data)},
      {"offsets not numbers", safetensors_bytes(with("data_offsets", {"a", "b"}), data)},
      {"unknown dtype", safetensors_bytes(with("dtype", "F7"), data)},
      {"shape and bytes disagree", safetensors_bytes(with("shape", {4, 8}), data)},
      {"negative shape", safetensors_bytes(with("shape", {-4, -4}), data)},
      {"shape not a list", safetensors_bytes(with("shape", "4x4"), data)},
      {"missing dtype", safetensors_bytes(json{{"w", {{"shape", {4, 4}}, {"data_offsets", {0, 64}}}}}.dump(), data)},
      {"overlapping tensors",
       safetensors_bytes(json{{"a", {{"dtype", "F32"}, {"shape", {8}}, {"data_offsets", {0, 32}}}},
                              {"b", {{"dtype", "F32"}, {"shape", {8}}, {"data_offsets", {16, 48}}}}}
                             .dump(),
                         data)},
      {"metadata not strings", safetensors_bytes(json{{"__metadata__", {{"format", 5}}}}.dump(), "")},
  };
  for (const auto& [name, bytes] : files) {
    table.cases.push_back({name, {"--quiet", "inspect", "{case}/bad.safetensors"}, {{"bad.safetensors", bytes}}, {},
                           {"bad.safetensors"}});
  }
  // The tiny model's weights against its config.json (written by the fixture: see tensor_file).
  const std::vector<std::tuple<std::string, std::string, std::string>> mismatches = {
      {"a tensor missing", "lm_head.weight", "drop"},
      {"a tensor of the wrong shape", "model.embed_tokens.weight", "shape"},
      {"an integer tensor", "model.norm.weight", "int"},
      {"a NaN in the base weights", "model.layers.0.mlp.up_proj.weight", "nan"},
      {"an infinity in the base weights", "model.norm.weight", "inf"},
  };
  for (const auto& [name, tensor, edit] : mismatches) {
    table.cases.push_back(train_model(name, {}, {tensor}));
    table.cases.back().copies = {{"model", "model-" + edit}};
  }
  return table;
}

BadInputClass sharded_indexes() {
  BadInputClass table{"Sharded index JSON", "not JSON, weight_map missing or malformed, shards missing, outside "
                                            "the folder, or without the tensors listed",
                      {}};
  const std::vector<std::pair<std::string, std::string>> indexes = {
      {"not JSON", "{\"weight_map\": "},
      {"no weight_map", "{\"metadata\": {}}"},
      {"weight_map a list", "{\"weight_map\": [\"a\"]}"},
      {"a missing shard", "{\"weight_map\": {\"lm_head.weight\": \"model-00009-of-00009.safetensors\"}}"},
      {"a shard outside the folder", "{\"weight_map\": {\"lm_head.weight\": \"../a/model.safetensors\"}}"},
      {"an absolute shard path", "{\"weight_map\": {\"lm_head.weight\": \"/etc/passwd\"}}"},
      {"a tensor the shard lacks", "{\"weight_map\": {\"no.such.tensor\": \"model-00001-of-00002.safetensors\"}}"},
      {"a shard name not a string", "{\"weight_map\": {\"lm_head.weight\": 3}}"},
  };
  for (const auto& [name, text] : indexes) {
    table.cases.push_back({name, {"--quiet", "inspect", "{case}/model"},
                           {{"model/model.safetensors.index.json", text}}, {{"model", "sharded"}},
                           {"model.safetensors.index.json"}});
  }
  return table;
}

BadInputClass tokenizer_files() {
  BadInputClass table{"Tokenizer files and chat templates",
                      "tokenizer.json, vocab.json + merges.txt, tokenizer.model, tokenizer_config.json and its chat "
                      "template malformed or using what is not supported",
                      {}};
  const std::vector<std::tuple<std::string, std::string, std::string>> files = {
      {"tokenizer.json not JSON", "tokenizer.json", "{\"model\": "},
      {"tokenizer.json without a model", "tokenizer.json", "{\"version\": \"1.0\"}"},
      {"tokenizer.json unsupported model type", "tokenizer.json",
       "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}"},
      {"tokenizer.json vocab a list", "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": [1], \"merges\": []}}"},
      {"tokenizer.json unknown pre-tokenizer", "tokenizer.json",
       "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Magic\"}}"},
      {"tokenizer.model garbage", "tokenizer.model", "this is not a sentencepiece model"},
      {"tokenizer.model empty", "tokenizer.model", ""},
  };
  for (const auto& [name, file, text] : files) {
    table.cases.push_back({name, {"--quiet", "tokenizer", "encode", "--model", "{case}/tok", "hello"},
                           {{"tok/" + file, text}}, {}, {file}});
  }
  table.cases.push_back({"vocab.json not an object", {"--quiet", "tokenizer", "encode", "--model", "{case}/tok", "hi"},
                         {{"tok/vocab.json", "[1]"}, {"tok/merges.txt", "#version: 0.2\n"}}, {}, {"vocab.json"}});
  table.cases.push_back({"missing --model folder", {"--quiet", "tokenizer", "encode", "--model", "{case}/gone", "hi"},
                         {}, {}, {"gone", "does not exist"}});
  table.cases.push_back({"decode of an id out of range",
                         {"--quiet", "tokenizer", "decode", "--model", "{shared}/tok", "999999"}, {}, {}, {"999999"}});
  table.cases.push_back({"decode of a word", {"--quiet", "tokenizer", "decode", "--model", "{shared}/tok", "seven"},
                         {}, {}, {"seven"}});
  const std::vector<std::pair<std::string, std::string>> templates = {
      {"unclosed tag", "{% for m in messages %}{{ m.content }}"},
      {"unknown filter", "{{ messages | frobnicate }}"},
      {"unsupported statement", "{% macro f() %}x{% endmacro %}"},
      {"chat_template a number", ""},
  };
  for (const auto& [name, text] : templates) {
    BadInput input = train_set("chat template: " + name, {"tokenizer.type=auto", "tokenizer.path={case}/tok",
                                                          "data.chat_template=auto"},
                               {"tokenizer_config.json"});
    input.copies = {{"tok", "tok"}};
    const json config = text.empty() ? json{{"chat_template", 5}} : json{{"chat_template", text}};
    input.files = {{"tok/tokenizer_config.json", config.dump()}};
    table.cases.push_back(input);
  }
  table.cases.push_back({"tokenizer train on an empty corpus",
                         {"--quiet", "tokenizer", "train", "--input", "{case}/empty.txt", "--output", "{case}/t.model"},
                         {{"empty.txt", "\n \n"}}, {}, {"empty.txt"}});
  table.cases.push_back({"tokenizer train on a missing corpus",
                         {"--quiet", "tokenizer", "train", "--input", "{case}/none.txt", "--output", "{case}/t.model"},
                         {}, {}, {"none.txt"}});
  return table;
}

BadInputClass output_locations() {
  BadInputClass table{"Output locations", "a file where a folder goes, a folder inside a file, an existing output "
                                          "without --overwrite",
                      {}};
  table.cases = {
      train_set("train output_dir is a file", {"output_dir={case}/file"}, {"output_dir", "file"}),
      train_set("train output_dir inside a file", {"output_dir={case}/file/run"}, {"output_dir", "file"}),
      train_set("train output_dir holds a run", {"output_dir={case}/run"}, {"output_dir", "run"}),
      {"merge output is a file", {"--quiet", "merge", "{case}/merge.yml", "{case}/file"}, {}, {}, {"file"}},
      {"merge output exists", {"--quiet", "merge", "{case}/merge.yml", "{case}/run"}, {}, {}, {"run"}},
      {"soup output is a file", {"--quiet", "soup", "{case}/file", "{shared}/a", "{shared}/b"}, {}, {}, {"file"}},
      {"soup output exists", {"--quiet", "soup", "{case}/run", "{shared}/a", "{shared}/b"}, {}, {}, {"run"}},
      {"wise-ft output inside a file", {"--quiet", "wise-ft", "--alpha", "0.5", "{shared}/a", "{shared}/b",
                                        "{case}/file/out"}, {}, {}, {"file"}},
      {"cluster output is a file", {"--quiet", "cluster", "--embeddings", "{case}/e.npy", "--data",
                                    "{shared}/train.jsonl", "--out", "{case}/file"}, {}, {}, {"file"}},
      {"tokenizer output is a folder", {"--quiet", "tokenizer", "train", "--input", "{shared}/corpus.txt", "--output",
                                        "{case}/run"}, {}, {}, {"run"}},
  };
  const std::string merge_yaml =
      "merge_method: linear\nmodels: [{model: '{shared}/a'}, {model: '{shared}/b'}]\nparameters: {weight: 1}\n";
  for (auto& input : table.cases) {
    input.files["file"] = "a file in the way\n";
    input.files["run/final/config.json"] = "{}";
    input.files["run/checkpoints/x"] = "";
    input.files["merge.yml"] = merge_yaml;
  }
  return table;
}

BadInputClass numeric_parameters() {
  BadInputClass table{"Numeric parameters", "NaN, infinities, negative and out-of-range numbers on the command line "
                                            "and in configs",
                      {}};
  table.cases = {
      train_set("optimizer.lr NaN", {"optimizer.lr=.nan"}, {"optimizer.lr"}),
      train_set("optimizer.lr infinite", {"optimizer.lr=.inf"}, {"optimizer.lr"}),
      train_set("max_grad_norm NaN", {"max_grad_norm=.nan"}, {"max_grad_norm"}),
      train_set("seed negative", {"seed=-1"}, {"seed"}),
      train_set("batch_size huge", {"batch_size=1e30"}, {"batch_size"}),
      {"wise-ft --alpha NaN", {"--quiet", "wise-ft", "--alpha", "nan", "{shared}/a", "{shared}/b", "{case}/out"}, {},
       {}, {"alpha"}},
      {"wise-ft --alpha infinite", {"--quiet", "wise-ft", "--alpha", "inf", "{shared}/a", "{shared}/b", "{case}/out"},
       {}, {}, {"alpha"}},
      {"cluster --k 0", {"--quiet", "cluster", "--k", "0", "--embeddings", "{case}/e.npy", "--data",
                         "{shared}/train.jsonl", "--out", "{case}/out"}, {}, {}, {"k"}},
      {"cluster --k above the records", {"--quiet", "cluster", "--k", "100", "--embeddings", "{case}/e.npy", "--data",
                                         "{shared}/train.jsonl", "--out", "{case}/out"}, {}, {}, {"--k"}},
      {"tokenizer --vocab-size 0", {"--quiet", "tokenizer", "train", "--input", "{shared}/corpus.txt", "--output",
                                    "{case}/t.model", "--vocab-size", "0"}, {}, {}, {"vocab_size"}},
      {"tokenizer --character-coverage 2", {"--quiet", "tokenizer", "train", "--input", "{shared}/corpus.txt",
                                            "--output", "{case}/t.model", "--character-coverage", "2"}, {}, {},
       {"character"}},
      {"merge --out-shard-size 0", {"--quiet", "merge", "--out-shard-size", "0", "{case}/merge.yml", "{case}/out"},
       {}, {}, {"--out-shard-size"}, 2},
      {"merge --out-shard-size words", {"--quiet", "merge", "--out-shard-size", "big", "{case}/merge.yml",
                                        "{case}/out"}, {}, {}, {"--out-shard-size"}, 2},
      {"soup --out-shard-size negative", {"--quiet", "soup", "--out-shard-size", "-5M", "{case}/out", "{shared}/a",
                                          "{shared}/b"}, {}, {}, {"--out-shard-size"}, 2},
      {"soup --metric unknown", {"--quiet", "soup", "--greedy", "--valid", "{shared}/train.jsonl", "--metric", "joy",
                                 "{case}/out", "{shared}/a", "{shared}/b"}, {}, {}, {"metric"}},
  };
  const std::string merge_yaml =
      "merge_method: linear\nmodels: [{model: '{shared}/a'}, {model: '{shared}/b'}]\nparameters: {weight: 1}\n";
  for (auto& input : table.cases) {
    input.files["merge.yml"] = merge_yaml;
    input.files["e.npy"] = npy_bytes(8, 2);
  }
  return table;
}

const std::vector<BadInputClass>& bad_input_table() {
  static const std::vector<BadInputClass> table = {command_line(),    train_config(),     merge_configs(),
                                                   pipeline_configs(), data_files(),       model_configs(),
                                                   safetensors_files(), sharded_indexes(), tokenizer_files(),
                                                   output_locations(), numeric_parameters(), evaluate_inputs()};
  return table;
}

// ---- the doc ------------------------------------------------------------------------------------------------

std::size_t total_cases() {
  std::size_t total = 0;
  for (const auto& table : bad_input_table()) total += table.cases.size();
  return total;
}

std::string bad_inputs_markdown() {
  std::ostringstream out;
  out << "# Bad inputs\n\n"
         "<!-- generated by tests/cli/bad_input_table_test.cpp: LADLE_WRITE_BAD_INPUTS_DOC=1 build/tests/ladle_tests "
         "--gtest_filter='BadInputTableDocs.*' -->\n\n"
         "Every case runs the `ladle` executable on one bad input and passes when it refuses cleanly: exit status 2 "
         "for a usage error and 1 for bad input, exactly one line on stderr starting `ladle: error:` that names the "
         "file, key or tensor at fault, no crash, and nothing left behind (no output folder, no partial or lock "
         "file).\n\n"
         "| class | cases | what it tries |\n|---|---:|---|\n";
  for (const auto& table : bad_input_table()) {
    out << "| " << table.title << " | " << table.cases.size() << " | " << table.covers << " |\n";
  }
  out << "| **total** | **" << total_cases() << "** | |\n";
  return out.str();
}

// ---- running ------------------------------------------------------------------------------------------------

std::string expanded(std::string text, const fs::path& shared, const fs::path& case_dir) {
  for (const auto& [marker, value] : {std::pair<std::string, std::string>{"{shared}", shared.string()},
                                      {"{case}", case_dir.string()}}) {
    for (std::size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + value.size())) {
      text.replace(at, marker.size(), value);
    }
  }
  return text;
}

// Every path under `root` with its size (folders as -1): what a refusal must leave as it was.
std::map<std::string, std::intmax_t> tree_of(const fs::path& root) {
  std::map<std::string, std::intmax_t> tree;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    tree[entry.path().lexically_relative(root).string()] =
        entry.is_regular_file() ? static_cast<std::intmax_t>(entry.file_size()) : -1;
  }
  return tree;
}

class BadInputTable : public ::testing::Test {
 protected:
  // Fixtures: a good train config and its data, tiny model folders (whole, edited and sharded), two models to
  // merge, a tokenizer, a text corpus.
  static void SetUpTestSuite() {
    root_ = ladle::testing::make_temp_dir("bad-inputs");
    const fs::path shared = root_ / "shared";
    fs::create_directories(shared);
    std::string records;
    for (int i = 0; i < 8; ++i) {
      records += json{{"instruction", "What is " + std::to_string(i) + " + 1?"}, {"output", std::to_string(i + 1)}}
                     .dump() +
                 "\n";
    }
    ladle::testing::write_text_file(shared / "train.jsonl", records);
    ladle::testing::write_text_file(shared / "good.yml", kGoodTrainYaml);
    ladle::testing::write_text_file(shared / "corpus.txt", "some words\nand a few more words\n");
    ladle::testing::RandomLlamaOptions tiny;
    tiny.layers = 1;
    tiny.vocab = 263;
    tiny.tokenizer = false;
    tiny.max_shard_bytes = 1 << 30;
    const NamedTensors tensors = ladle::testing::write_random_llama(shared / "model", tiny);
    write_edited_model(shared, tensors, "drop");
    write_edited_model(shared, tensors, "shape");
    write_edited_model(shared, tensors, "int");
    write_edited_model(shared, tensors, "nan");
    write_edited_model(shared, tensors, "inf");
    ladle::testing::RandomLlamaOptions small;
    ladle::testing::write_random_llama(shared / "sharded", small);
    small.seed = 2;
    ladle::testing::write_random_llama(shared / "a", small);
    small.seed = 3;
    ladle::testing::write_random_llama(shared / "b", small);
    fs::create_directories(shared / "tok");
    ladle::testing::write_text_file(shared / "tok" / "tokenizer.json", tiny_tokenizer_json().dump());
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A BPE tokenizer.json over a few letters.
  static json tiny_tokenizer_json() {
    json vocab = json::object();
    const std::string letters = "abcdefghijklmnopqrstuvwxyz ";
    for (std::size_t i = 0; i < letters.size(); ++i) vocab[std::string(1, letters[i])] = i;
    return {{"version", "1.0"}, {"added_tokens", json::array()}, {"normalizer", nullptr},
            {"pre_tokenizer", nullptr}, {"post_processor", nullptr}, {"decoder", nullptr},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
  }

  // shared/model-<edit>: the tiny model with one tensor dropped, reshaped, made integer, or given a NaN or an Inf.
  static void write_edited_model(const fs::path& shared, const NamedTensors& tensors, const std::string& edit) {
    NamedTensors edited;
    for (const auto& [name, tensor] : tensors) {
      at::Tensor value = tensor.clone();
      if (edit == "drop" && name == "lm_head.weight") continue;
      if (edit == "shape" && name == "model.embed_tokens.weight") value = value.narrow(1, 0, 8).contiguous();
      if (edit == "int" && name == "model.norm.weight") value = value.to(at::kInt);
      if (edit == "nan" && name == "model.layers.0.mlp.up_proj.weight") value.view({-1})[5] = NAN;
      if (edit == "inf" && name == "model.norm.weight") value[3] = INFINITY;
      edited.insert(name, value);
    }
    io::CheckpointWriteOptions options;
    options.max_shard_bytes = 1 << 30;
    io::save_checkpoint(shared / ("model-" + edit), edited, tiny_config_json(), options);
  }

  static fs::path root_;
};

fs::path BadInputTable::root_;

// Runs one case in a fresh folder and checks the refusal; returns a description of what was wrong, or "".
std::string refusal_problem(const BadInput& input, const fs::path& root, std::size_t index) {
  const fs::path shared = root / "shared", case_dir = root / ("case-" + std::to_string(index));
  fs::create_directories(case_dir);
  for (const auto& [target, source] : input.copies) {
    fs::copy(shared / source, case_dir / target, fs::copy_options::recursive);
  }
  for (const auto& [path, bytes] : input.files) {
    fs::create_directories((case_dir / path).parent_path());
    ladle::testing::write_text_file(case_dir / path, expanded(bytes, shared, case_dir));
  }
  std::vector<std::string> args;
  for (const auto& arg : input.args) args.push_back(expanded(arg, shared, case_dir));
  const auto before = tree_of(root);
  const auto result = ladle::testing::run_ladle(args);
  const auto after = tree_of(root);
  std::ostringstream problems;
  if (result.exit_code != input.exit_status) {
    problems << "exit status " << result.exit_code << ", expected " << input.exit_status << "; ";
  }
  const std::string& err = result.err;
  if (err.rfind("ladle: error: ", 0) != 0 || err.empty() || err.find('\n') != err.size() - 1) {
    problems << "stderr is not one 'ladle: error:' line; ";
  }
  for (const auto& name : input.names) {
    const std::string shown = expanded(name, shared, case_dir);
    if (err.find(shown) == std::string::npos) problems << "the error does not name '" << shown << "'; ";
  }
  if (before != after) {
    for (const auto& [path, size] : after) {
      if (before.count(path) == 0) problems << "left " << path << "; ";
    }
    for (const auto& [path, size] : before) {
      if (after.count(path) == 0) problems << "removed " << path << "; ";
    }
  }
  fs::remove_all(case_dir);
  const std::string text = problems.str();
  return text.empty() ? "" : text + "stderr: " + err;
}

// LADLE_BAD_INPUTS_ONLY=TEXT runs only the cases whose "class / name" contains TEXT.
TEST_F(BadInputTable, EveryBadInputIsRefusedCleanly) {
  const char* only = std::getenv("LADLE_BAD_INPUTS_ONLY");
  std::size_t index = 0;
  for (const auto& table : bad_input_table()) {
    for (const auto& input : table.cases) {
      if (only != nullptr && (table.title + " / " + input.name).find(only) == std::string::npos) continue;
      const std::string problem = refusal_problem(input, root_, index++);
      EXPECT_EQ(problem, "") << table.title << " / " << input.name;
    }
  }
}

// Distinct inputs: no two cases of the table run the same command on the same files.
TEST(BadInputTableDocs, CasesAreDistinctAndAtLeast200) {
  std::set<std::pair<std::vector<std::string>, std::map<std::string, std::string>>> seen;
  for (const auto& table : bad_input_table()) {
    for (const auto& input : table.cases) {
      auto files = input.files;
      for (const auto& [target, source] : input.copies) files["copy:" + target] = source;
      EXPECT_TRUE(seen.insert({input.args, files}).second) << table.title << " / " << input.name;
    }
  }
  EXPECT_GE(total_cases(), 200u);
}

TEST(BadInputTableDocs, DocsBadInputsMdIsTheGeneratedTable) {
  const fs::path doc = fs::path(LADLE_SOURCE_DIR) / "docs" / "bad-inputs.md";
  const char* write = std::getenv("LADLE_WRITE_BAD_INPUTS_DOC");
  if (write != nullptr && std::string(write) == "1") ladle::testing::write_text_file(doc, bad_inputs_markdown());
  EXPECT_EQ(ladle::testing::read_text_file(doc), bad_inputs_markdown())
      << "docs/bad-inputs.md is out of date: run with LADLE_WRITE_BAD_INPUTS_DOC=1 (see the top of this file)";
  const std::string readme = ladle::testing::read_text_file(fs::path(LADLE_SOURCE_DIR) / "README.md");
  EXPECT_NE(readme.find("[" + std::to_string(total_cases()) + " bad inputs](docs/bad-inputs.md)"), std::string::npos)
      << "README's Building and testing section links docs/bad-inputs.md with the total";
}

}  // namespace
}  // namespace ladle::cli
