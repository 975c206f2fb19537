#include "lib/merge/online_merge.h"

#include <ATen/ATen.h>

#include <cmath>

#include "lib/merge/methods/generalized_task_arithmetic.h"
#include "lib/merge/methods/sparsification.h"
#include "lib/util/error.h"

namespace ladle::merge {
namespace {

// DARE_p or trim_p of one operand (online_merge.h), with the rescale the options ask for.
at::Tensor sparsify_operand(const at::Tensor& values, const OnlineMergeOptions& options, std::uint64_t seed) {
  SparsifyOptions sparsify_options;
  sparsify_options.density = options.density;
  sparsify_options.seed = seed;
  const bool dare = options.op == OnlineMergeOperator::ondare;
  sparsify_options.rescale = options.rescale ? Rescale::kMatchL1 : dare ? Rescale::kInverseProbability : Rescale::kNone;
  return sparsify(values, dare ? Sparsification::kRandom : Sparsification::kMagnitude, sparsify_options);
}

// OnDARE's clamp to ±clip (clip 0: none). Out of place: at density 1 `values` is the caller's tensor itself.
at::Tensor clipped(const at::Tensor& values, double clip) { return clip > 0 ? values.clamp(-clip, clip) : values; }

}  // namespace

const char* online_merge_operator_name(OnlineMergeOperator op) {
  return op == OnlineMergeOperator::ondare ? "ondare" : "onties";
}

OnlineMergeOperator online_merge_operator_from_name(const std::string& name) {
  if (name == "ondare") return OnlineMergeOperator::ondare;
  if (name == "onties") return OnlineMergeOperator::onties;
  throw Error("online merge: unknown operator '" + name + "' (expected ondare or onties)");
}

const char* online_sign_election_name(OnlineSignElection election) {
  return election == OnlineSignElection::sum ? "sum" : "weighted";
}

OnlineSignElection online_sign_election_from_name(const std::string& name) {
  if (name == "sum") return OnlineSignElection::sum;
  if (name == "weighted") return OnlineSignElection::weighted;
  throw Error("online merge: unknown sign election '" + name + "' (expected sum or weighted)");
}

void validate(const OnlineMergeOptions& options) {
  if (!(options.density > 0.0 && options.density <= 1.0)) {
    throw Error("online merge: density must be in (0, 1], got " + std::to_string(options.density));
  }
  if (!(options.reference_weight >= 0.0 && options.reference_weight <= 1.0)) {
    throw Error("online merge: reference_weight must be in [0, 1] (the update gets 1 − it), got " +
                std::to_string(options.reference_weight));
  }
  if (!(std::isfinite(options.clip) && options.clip >= 0.0)) {
    throw Error("online merge: clip must be a finite number ≥ 0 (0: no clamping), got " + std::to_string(options.clip));
  }
}

at::Tensor sparsify_reference(const at::Tensor& reference, const OnlineMergeOptions& options, std::uint64_t seed) {
  const at::Tensor sparse = sparsify_operand(reference, options, seed);
  return options.op == OnlineMergeOperator::ondare ? clipped(sparse, options.clip) : sparse;
}

at::Tensor merge_update(const at::Tensor& update, const at::Tensor& sparse_reference, const OnlineMergeOptions& options,
                        std::uint64_t seed) {
  const double alpha = options.reference_weight;
  at::Tensor kept_update = sparsify_operand(update, options, seed);
  at::Tensor kept_reference = sparse_reference;
  if (options.op == OnlineMergeOperator::ondare) {
    if (options.rescale) kept_update = clipped(kept_update, options.clip);
  } else {
    // TIES' elect and disjoint steps (Yadav et al. 2023, Sec. 3) over the two operands.
    const std::vector<at::Tensor> masks =
        options.election == OnlineSignElection::sum
            ? sign_consensus_masks({sparse_reference, kept_update})
            : sign_consensus_masks({sparse_reference * alpha, kept_update * (1.0 - alpha)});
    kept_reference = at::where(masks[0], sparse_reference, 0.0f);
    kept_update = at::where(masks[1], kept_update, 0.0f);
  }
  // The weights' identity cases return an operand as it is (bit for bit; it may be `update` itself).
  if (alpha == 0.0) return kept_update;
  if (alpha == 1.0) return kept_reference;
  return (kept_update * (1.0 - alpha)).add_(kept_reference, alpha);
}

}  // namespace ladle::merge
