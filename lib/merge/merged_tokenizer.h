// The tokenizer files of a merged model, from the plan's tokenizer folder:
// - without a tokenizer setting or chat_template, copied as they are;
// - with an output vocabulary (output_vocabulary.h), rewritten so that every id is the row the merged matrices give
//   it, as mergekit's tokenizer.save_pretrained writes them: tokenizer.json's added_tokens (and, for tokens the
//   base tokenizer had beyond its rows, its model vocabulary and merges), tokenizer_config.json's
//   added_tokens_decoder, added_tokens.json when the folder has one, and a sentencepiece tokenizer.model with the
//   added tokens appended as USER_DEFINED pieces (lib/text/sentencepiece_model_pieces.h), loaded by
//   libsentencepiece to check their ids before it is written. GPT-2's vocab.json + merges.txt alone cannot hold
//   added tokens in a form ladle reads: such a folder is refused when tokens are added or dropped;
// - with a chat template (chat_template_choice.h), tokenizer_config.json's chat_template is it, and the folder's
//   chat_template.jinja / chat_template.json (which would take precedence) are not copied.
#pragma once

#include <string>

#include "lib/io/checkpoint_writer.h"
#include "lib/merge/merge_plan.h"

namespace ladle::merge {

// Adds a file of the given contents to the folder (CheckpointWriter adds files by copying them).
void add_text_file(io::CheckpointWriter& writer, const std::string& name, const std::string& contents);

// Throws ladle::Error naming the file for a tokenizer file that cannot be rewritten; a missing tokenizer is an
// error when plan.tokenizer_required, else a warning.
void add_merged_tokenizer(const MergePlan& plan, io::CheckpointWriter& writer);

}  // namespace ladle::merge
