// NaN and ±Inf in input weights. Merging, averaging or interpolating a model that holds them gives an output that
// holds them too (or, through a normalisation, spreads them over whole tensors), and nothing downstream says why:
// so the commands that read models check every floating-point tensor as they read it, a pass over memory the read
// has just brought in, unless told to allow them (--allow-nonfinite).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "lib/weights/named_tensors.h"

namespace ladle {

// The number of NaN and ±Inf entries; 0 for a tensor that is not floating-point. Counts block by block, so the
// temporaries stay small whatever the tensor's size.
std::int64_t count_nonfinite(const at::Tensor& tensor);

// Throws ladle::Error "<model>: tensor '<name>' has N NaN or infinite value(s) ..." when `tensor` holds any; `model`
// names where the tensor comes from (the model folder).
void require_finite(const at::Tensor& tensor, const std::string& model, const std::string& name);
// The same for every tensor of a model read whole, in its order; names the first tensor that holds any.
void require_finite(const NamedTensors& tensors, const std::string& model);

}  // namespace ladle
