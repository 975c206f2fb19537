// Metrics: named values of a run ("train/loss", "eval/loss/spam", "ema/exact_match"), ordered by name so logs
// and metrics.jsonl list them the same way every time. Names are "<source>/<metric>[/<task>]".
#pragma once

#include <map>
#include <string>

namespace ladle::trainer {

using Metrics = std::map<std::string, double>;

}  // namespace ladle::trainer
