// From instruction records to a dataset of tokenized examples through a chat template.
#pragma once

#include <memory>
#include <vector>

#include "lib/text/chat_template.h"
#include "lib/text/example_dataset.h"
#include "lib/text/instruction_record.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

// Encodes every record (its source_index is its position in `records`, its task the record's task). An example
// that truncation left without any trained token is dropped; how many were dropped and how many replies lost
// their end (no final eos) is logged at warning, naming their first line numbers.
std::shared_ptr<const TokenizedDataset> tokenize_instructions(const std::vector<InstructionRecord>& records,
                                                              const ChatTemplate& chat_template,
                                                              const Tokenizer& tokenizer);

}  // namespace ladle::text
