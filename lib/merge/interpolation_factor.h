// Interpolation factors (slerp's t, WiSE-FT's alpha): a factor in [0, 1] moves between two models; one outside
// moves along the same path beyond them, which is extrapolation. That is a real technique (ExPO: Zheng et al. 2024,
// "Weak-to-Strong Extrapolation Expedites Alignment", θ = θ_sft + α·(θ_aligned − θ_sft) with α > 1), so such a
// factor is allowed, but it is said aloud: it is more often a typo than a choice.
#pragma once

#include <string>

namespace ladle::merge {

// "<what> = <factor> is outside [0, 1]: ... extrapolates ..." for a factor outside [0, 1]; "" inside it.
std::string extrapolation_warning(const std::string& what, double factor);

}  // namespace ladle::merge
