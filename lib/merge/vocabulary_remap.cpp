#include "lib/merge/vocabulary_remap.h"

#include <ATen/ATen.h>

#include "lib/util/error.h"

namespace ladle::merge {
namespace {

using DefaultRow = VocabularyRemap::DefaultRow;

// The output id's default row from a `tokens:` rule.
DefaultRow rule_row(const MergeConfig& config, const TokenizerSettings& settings, const TokenRule& rule,
                    std::size_t rule_index, const VocabularyRemap& remap, const InputModels& models,
                    const std::vector<std::size_t>& input_models, const std::string& tensor) {
  DefaultRow row{rule.id, DefaultRow::Kind::zero, 0, -1, rule.description};
  if (rule.kind == TokenRowSource::Kind::zero) return row;
  const TokenEmbedding& written = settings.tokens[rule_index];
  const auto position = std::find(input_models.begin(), input_models.end(), rule.model);
  const std::string model = "'" + models[rule.model].reference.name + "'";
  if (position == input_models.end()) {
    throw Error(config.where(written.source->line) + ": " + written.key + ".source: expected a model merged into " +
                tensor + ", got " + model + ", which is not among its inputs");
  }
  row.kind = DefaultRow::Kind::input_row;
  row.input = static_cast<std::size_t>(position - input_models.begin());
  row.row = rule.kind == TokenRowSource::Kind::model_token ? rule.model_id : remap.input_rows[row.input][rule.id];
  if (row.row < 0) {
    throw Error(config.where(written.source->line) + ": " + written.key +
                ".source: expected a model that has the token '" + written.token + "', got " + model +
                ", which lacks it (use {kind: model_token, model: " + models[rule.model].reference.name +
                ", token: ...} to take another token's row)");
  }
  return row;
}

// mergekit's assign_embedding_sources for a token without a rule that some input lacks.
DefaultRow default_row(std::int64_t id, const VocabularyRemap& remap, std::optional<std::size_t> base_input,
                       const InputModels& models, const std::vector<std::size_t>& input_models) {
  std::vector<std::size_t> present;
  for (std::size_t i = 0; i < remap.input_rows.size(); ++i) {
    if (remap.input_rows[i][id] >= 0) present.push_back(i);
  }
  if (present.size() == 1) {
    return {id, DefaultRow::Kind::input_row, present.front(), remap.input_rows[present.front()][id],
            "from '" + models[input_models[present.front()]].reference.name + "', the only model that has them"};
  }
  if (present.empty()) return {id, DefaultRow::Kind::zero, 0, -1, "zero: no model has them"};
  if (base_input && remap.input_rows[*base_input][id] >= 0) {
    return {id, DefaultRow::Kind::input_row, *base_input, remap.input_rows[*base_input][id],
            "from the base model '" + models[input_models[*base_input]].reference.name + "'"};
  }
  return {id, DefaultRow::Kind::mean, 0, -1, "the mean of the models that have them"};
}

at::Tensor index_tensor(const std::vector<std::int64_t>& values) {
  return at::tensor(at::ArrayRef<std::int64_t>(values), at::TensorOptions().dtype(at::kLong));
}

}  // namespace

VocabularyRemap plan_vocabulary_remap(const MergeConfig& config, const OutputVocabulary& vocabulary,
                                      const InputModels& models, const std::vector<std::size_t>& input_models,
                                      std::optional<std::size_t> base_input,
                                      const std::vector<std::int64_t>& input_rows, const std::string& tensor) {
  VocabularyRemap remap;
  remap.tokens = static_cast<std::int64_t>(vocabulary.tokens.size());
  remap.rows = vocabulary.rows;
  for (std::size_t i = 0; i < input_models.size(); ++i) {
    std::vector<std::int64_t> rows = vocabulary.model_ids.at(input_models[i]);
    for (auto& row : rows) {
      if (row >= input_rows[i]) row = -1;  // a token id beyond the matrix (mergekit: "padding?")
    }
    remap.input_rows.push_back(std::move(rows));
  }
  remap.replaced.resize(input_models.size());
  std::vector<int> rule_of(static_cast<std::size_t>(remap.tokens), -1);
  for (std::size_t r = 0; r < vocabulary.rules.size(); ++r) rule_of[vocabulary.rules[r].id] = static_cast<int>(r);
  const TokenizerSettings& settings = *config.tokenizer;
  for (std::int64_t id = 0; id < remap.tokens; ++id) {
    const int rule = rule_of[id];
    const bool force = rule >= 0 && vocabulary.rules[rule].force;
    std::vector<std::size_t> takers;
    for (std::size_t i = 0; i < input_models.size(); ++i) {
      if (force || remap.input_rows[i][id] < 0) takers.push_back(i);
    }
    if (takers.empty()) continue;
    if (rule >= 0) {
      remap.defaults.push_back(rule_row(config, settings, vocabulary.rules[rule], static_cast<std::size_t>(rule), remap,
                                        models, input_models, tensor));
    } else {
      remap.defaults.push_back(default_row(id, remap, base_input, models, input_models));
    }
    for (const auto input : takers) remap.replaced[input].push_back(remap.defaults.size() - 1);
  }
  return remap;
}

std::vector<at::Tensor> remap_vocabulary_rows(const VocabularyRemap& remap, const std::vector<at::Tensor>& inputs) {
  // Each input's own rows of the output tokens, zero where it has none.
  std::vector<at::Tensor> own;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<std::int64_t> gather = remap.input_rows[i];
    std::vector<std::int64_t> missing;
    for (std::size_t id = 0; id < gather.size(); ++id) {
      if (gather[id] < 0) {
        missing.push_back(static_cast<std::int64_t>(id));
        gather[id] = 0;
      }
    }
    at::Tensor rows = inputs[i].index_select(0, index_tensor(gather));
    if (!missing.empty()) rows.index_fill_(0, index_tensor(missing), 0);
    own.push_back(rows);
  }

  // The default rows: means over the inputs that have the token, in one pass for all of them.
  const std::int64_t hidden = inputs.front().size(1);
  at::Tensor defaults = at::zeros({static_cast<std::int64_t>(remap.defaults.size()), hidden}, inputs.front().options());
  std::vector<std::int64_t> mean_slots;
  std::vector<std::int64_t> mean_ids;
  for (std::size_t d = 0; d < remap.defaults.size(); ++d) {
    const DefaultRow& row = remap.defaults[d];
    if (row.kind == DefaultRow::Kind::input_row) {
      defaults[static_cast<std::int64_t>(d)].copy_(inputs[row.input][row.row]);
    } else if (row.kind == DefaultRow::Kind::mean) {
      mean_slots.push_back(static_cast<std::int64_t>(d));
      mean_ids.push_back(row.id);
    }
  }
  if (!mean_ids.empty()) {
    const at::Tensor ids = index_tensor(mean_ids);
    at::Tensor sum = at::zeros({static_cast<std::int64_t>(mean_ids.size()), hidden}, inputs.front().options());
    std::vector<double> counts(mean_ids.size(), 0);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      sum += own[i].index_select(0, ids);
      for (std::size_t k = 0; k < mean_ids.size(); ++k) counts[k] += remap.input_rows[i][mean_ids[k]] >= 0 ? 1 : 0;
    }
    const at::Tensor divisor = at::tensor(at::ArrayRef<double>(counts)).to(sum.scalar_type()).unsqueeze(1);
    defaults.index_copy_(0, index_tensor(mean_slots), sum / divisor);
  }

  std::vector<at::Tensor> remapped;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    at::Tensor out = at::empty({remap.rows, hidden}, inputs[i].options());
    at::Tensor tokens = out.narrow(0, 0, remap.tokens);
    tokens.copy_(own[i]);
    if (!remap.replaced[i].empty()) {
      std::vector<std::int64_t> targets;
      std::vector<std::int64_t> slots;
      for (const auto slot : remap.replaced[i]) {
        targets.push_back(remap.defaults[slot].id);
        slots.push_back(static_cast<std::int64_t>(slot));
      }
      tokens.index_copy_(0, index_tensor(targets), defaults.index_select(0, index_tensor(slots)));
    }
    if (remap.rows > remap.tokens) {
      out.narrow(0, remap.tokens, remap.rows - remap.tokens)
          .copy_(tokens.mean(0, true).expand({remap.rows - remap.tokens, hidden}));
    }
    remapped.push_back(out);
  }
  return remapped;
}

}  // namespace ladle::merge
