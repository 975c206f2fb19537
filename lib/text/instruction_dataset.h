// From instruction records to a dataset of tokenized examples through a chat format (Tulu v2 or the model's
// own template).
#pragma once

#include <memory>
#include <vector>

#include "lib/text/chat_format.h"
#include "lib/text/example_dataset.h"
#include "lib/text/instruction_record.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

// Encodes every record (its source_index is its position in `records`, its task the record's task). An example
// that truncation left without any trained token is dropped; how many were dropped and how many replies lost
// their end (fewer trained end-of-turn tokens than replies) is logged at warning, naming their first line numbers.
std::shared_ptr<const TokenizedDataset> tokenize_instructions(const std::vector<InstructionRecord>& records,
                                                              const ChatFormat& chat_format,
                                                              const Tokenizer& tokenizer);

}  // namespace ladle::text
