// ParameterFilter: which parameters (and buffers) an average covers, by regular expressions on their dotted names,
// as ema-pytorch's param_or_buffer_names_no_ema / ignore_names let one keep some tensors out of the EMA. A tensor
// the filter leaves out keeps its live value in the averaged model that is evaluated and written.
#pragma once

#include <string>
#include <vector>

#include "lib/text/oniguruma_regex.h"
#include "lib/weights/named_tensors.h"

namespace ladle::callbacks {

class ParameterFilter {
 public:
  // Every name is selected when `include` is empty; a name is selected when some include pattern occurs in it
  // (Python's re.search and syntax, as the Python tools' name filters: anchor with ^ and $ for whole names) and no
  // exclude pattern does. Throws ladle::Error naming the first pattern that is not a valid regular expression.
  ParameterFilter(std::vector<std::string> include = {}, std::vector<std::string> exclude = {});

  bool selects(const std::string& name) const;
  // True when every name is selected (no pattern given).
  bool selects_all() const { return include_.empty() && exclude_.empty(); }

  // `averaged` with every tensor the filter leaves out replaced by a copy of its value in `live` (same names).
  NamedTensors applied(NamedTensors averaged, const NamedTensors& live) const;

 private:
  std::vector<text::OnigurumaRegex> include_;
  std::vector<text::OnigurumaRegex> exclude_;
};

}  // namespace ladle::callbacks
