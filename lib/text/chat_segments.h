// ChatSegment: a piece of a rendered conversation (a role header, a message's content, a reply with its
// end-of-turn token) and whether it is trained. Both chat formats render conversations into segments and
// encode each segment on its own, so a segment boundary is always a token boundary and the loss mask is exact
// by construction; this file holds that shared encoding and the truncation to max_length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lib/text/tokenized_example.h"
#include "lib/text/tokenizer.h"

namespace ladle::text {

// What a segment of a rendered conversation is.
enum class SegmentKind {
  bos,       // the tokenizer's bos id; text is empty
  header,    // template text around the messages, e.g. "\n<|assistant|>\n" or "<|im_end|>\n<|im_start|>user\n"
  prompt,    // a system or user message's content
  response,  // an assistant message's content (for a model's template: with the end-of-turn text after it)
  eos,       // the tokenizer's eos id closing a response; text is empty
};

struct ChatSegment {
  SegmentKind kind = SegmentKind::prompt;  // what it is
  std::string text;                        // the text to encode (empty for bos and eos)
  bool trained = false;                    // whether its tokens are loss targets
};

// How an example longer than max_length is cut.
enum class TruncationPolicy {
  // Keep bos, headers, replies and eos whole and remove tokens from the end of the prompt contents, the last
  // prompt message first (for Alpaca records: the end of the input, e.g. an email's tail). Only when the example
  // still does not fit is its end cut, as cut_end does.
  shorten_prompt,
  // Keep the first max_length tokens (open-instruct's truncation): replies at the end lose their tail or vanish.
  cut_end,
};

// Token ids and labels of segments (each encoded on its own; bos and eos as the tokenizer's ids), truncated to
// max_length (0: no limit) by policy. Throws ladle::Error when a bos or eos segment meets a tokenizer without
// that id.
TokenizedExample encode_segments(const std::vector<ChatSegment>& segments, const Tokenizer& tokenizer,
                                 std::size_t max_length, TruncationPolicy policy);
// The ids of a generation prompt's segments; when max_length is set, prompt contents are shortened from their
// end to fit. Throws ladle::Error when the rest alone does not fit.
std::vector<std::int64_t> encode_prompt_segments(const std::vector<ChatSegment>& segments, const Tokenizer& tokenizer,
                                                 std::size_t max_length);
}  // namespace ladle::text
