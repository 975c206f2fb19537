// The two character classes the added-token rules of Hugging Face's tokenizers test (added_vocabulary.rs uses
// Rust regex's \s and \w, which follow UTS #18): white space, and word characters.
#pragma once

namespace ladle::text::hf {

// The White_Space property (Rust's \s and char::is_whitespace).
bool is_white_space(char32_t code_point);
// A word character of UTS #18 annex C: Alphabetic, a mark, a decimal digit, a connector punctuation or a
// join control (Rust's \w).
bool is_word_character(char32_t code_point);

}  // namespace ladle::text::hf
