// The weighted sum sum_i w_i theta_i of Hugging Face folders of one architecture, with the weights as given (no
// normalisation: post-hoc EMA weights may be negative and sum to 1 only approximately), streamed tensor by tensor
// through the merge engine's linear method, so memory is bounded by the engine's rule and not by the number of
// models. Post-hoc EMA reconstructions (callbacks/posthoc_ema.h) and checkpoint-series merges
// (callbacks/checkpoint_series_merge.h) are written with it.
//
// The sum is accumulated in float64 and rounded once to float32 (merge dtype float64, out_dtype float32): with weights
// summing to 1, N copies of one model give that model back bit for bit, and a LAWA ring's weighted average (also
// summed in float64, callbacks/lawa_average.h) matches a merge of the same checkpoints.
#pragma once

#include <filesystem>
#include <vector>

#include "lib/merge/merge_executor.h"

namespace ladle::merge {

// Writes sum_i weights[i] * models[i] to `output` as a Hugging Face folder (atomically; config and tokenizer files
// from the first model). Throws ladle::Error unless there is one weight per model (and at least one), or when
// `output` exists and overwrite is false.
MergeExecutionStats write_weighted_model_sum(const std::vector<std::filesystem::path>& models,
                                             const std::vector<double>& weights, const std::filesystem::path& output,
                                             bool overwrite = false);

}  // namespace ladle::merge
