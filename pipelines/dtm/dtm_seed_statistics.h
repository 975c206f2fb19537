// The seed statistics of a DTM report (dtm_config.h `seeds`): every method's replicates averaged into the report's
// tables, and per held-out set its headline numbers as mean, standard deviation and 95% Student t interval over the
// seeds, with each method's difference from vanilla as a paired bootstrap interval over the held-out examples.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipelines/dtm/dtm_report.h"

namespace ladle::dtm {

// One entry per method, in the order of first appearance: its replicates' metrics averaged (a metric every replicate
// has), their runs together, named by the method. With one replicate per method, the models as they are.
std::vector<ModelScores> seed_means(const std::vector<ModelScores>& replicates);

// Whether some method has more than one replicate.
bool has_replicates(const std::vector<ModelScores>& replicates);

// The seeds table of `set`: a row per method, "mean ± sd [95% t interval]" of its loss over every token and of its
// accuracy over every scored example (choice or exact match per example) over its seeds, and its difference from
// vanilla's (when vanilla was evaluated) as the 95% percentile interval of a paired bootstrap over the examples
// (10,000 resamples, seeded) of the seed-averaged per-example scores, "not separated" when it holds 0. Throws
// ladle::Error when two models were scored on different examples.
std::string seed_interval_table(const std::vector<ModelScores>& replicates, const std::string& set);

}  // namespace ladle::dtm
