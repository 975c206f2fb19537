#include "lib/text/hf/pre_tokenizer.h"

#include <utility>

#include "lib/text/hf/byte_level_alphabet.h"
#include "lib/text/hf/pattern.h"

namespace ladle::text::hf {
namespace {

// GPT-2's word pattern (openai/gpt-2 encoder.py; tokenizers/src/pre_tokenizers/byte_level.rs).
constexpr const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// What happens to the matches of a split pattern (tokenizers/src/tokenizer/normalizer.rs,
// SplitDelimiterBehavior).
enum class SplitBehavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
  bool is_match = false;
};

// The text cut at the matches: alternating non-matching and matching spans covering all of it.
std::vector<Span> spans_of(std::string_view text, const Pattern& pattern, bool invert) {
  std::vector<Span> spans;
  std::size_t previous = 0;
  for (const auto& [begin, end] : pattern.find_all(text)) {
    if (begin > previous) spans.push_back({previous, begin, invert});
    spans.push_back({begin, end, !invert});
    previous = end;
  }
  if (previous < text.size()) spans.push_back({previous, text.size(), invert});
  return spans;
}

// Rust's NormalizedString::split: the spans joined or dropped as the behaviour says.
std::vector<Span> apply_behavior(std::vector<Span> spans, SplitBehavior behavior) {
  std::vector<Span> out;
  switch (behavior) {
    case SplitBehavior::isolated:
      return spans;
    case SplitBehavior::removed:
      for (const auto& span : spans) {
        if (!span.is_match) out.push_back(span);
      }
      return out;
    case SplitBehavior::contiguous: {
      bool previous_match = false;
      for (const auto& span : spans) {
        if (!out.empty() && span.is_match == previous_match) {
          out.back().end = span.end;
        } else {
          out.push_back(span);
        }
        previous_match = span.is_match;
      }
      return out;
    }
    case SplitBehavior::merged_with_previous: {
      bool previous_match = false;
      for (const auto& span : spans) {
        if (span.is_match && !previous_match && !out.empty()) {
          out.back().end = span.end;
        } else {
          out.push_back(span);
        }
        previous_match = span.is_match;
      }
      return out;
    }
    case SplitBehavior::merged_with_next: {
      bool previous_match = false;
      for (auto span = spans.rbegin(); span != spans.rend(); ++span) {
        if (span->is_match && !previous_match && !out.empty()) {
          out.back().begin = span->begin;
        } else {
          out.push_back(*span);
        }
        previous_match = span->is_match;
      }
      return {out.rbegin(), out.rend()};
    }
  }
  return out;
}

// Each piece cut into its spans; empty ones dropped.
void split_pieces(std::vector<Piece>& pieces, const Pattern& pattern, bool invert, SplitBehavior behavior) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (auto& piece : pieces) {
    for (const auto& span : apply_behavior(spans_of(piece.text, pattern, invert), behavior)) {
      if (span.end == span.begin) continue;
      if (span.begin == 0 && span.end == piece.text.size()) {
        out.push_back(std::move(piece));
        break;
      }
      out.push_back({piece.text.substr(span.begin, span.end - span.begin), piece.starts_input && span.begin == 0});
    }
  }
  pieces = std::move(out);
}

SplitBehavior parse_behavior(const JsonField& field) {
  const std::string name = field.string();
  if (name == "Removed") return SplitBehavior::removed;
  if (name == "Isolated") return SplitBehavior::isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::merged_with_previous;
  if (name == "MergedWithNext") return SplitBehavior::merged_with_next;
  if (name == "Contiguous") return SplitBehavior::contiguous;
  field.fail("split behavior '" + name +
             "' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  explicit SplitPreTokenizer(const JsonField& field)
      : pattern_(field["pattern"]),
        behavior_(parse_behavior(field["behavior"])),
        invert_(field.boolean_or("invert", false)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override { split_pieces(pieces, pattern_, invert_, behavior_); }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

// Bytes as characters of the byte-level alphabet, after an optional space before each piece and GPT-2's split
// (byte_level.rs; trim_offsets only moves offsets, which ladle does not report).
class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space),
        pattern_(use_regex ? std::make_unique<Pattern>(Pattern::regex(kGpt2Pattern, "GPT-2's pattern")) : nullptr) {}

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_) {
      for (auto& piece : pieces) {
        if (piece.text.empty() || piece.text[0] != ' ') piece.text.insert(0, 1, ' ');
      }
    }
    if (pattern_) split_pieces(pieces, *pattern_, false, SplitBehavior::isolated);
    const auto& alphabet = ByteLevelAlphabet::instance();
    for (auto& piece : pieces) piece.text = alphabet.encode(piece.text);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Pattern> pattern_;
};

enum class PrependScheme { always, first, never };

// Spaces as the replacement character "▁", one prepended as the scheme says, then split before each
// replacement (tokenizers/src/pre_tokenizers/metaspace.rs).
class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  explicit MetaspacePreTokenizer(const JsonField& field)
      : replacement_(field["replacement"].string()),
        spaces_(Pattern::literal(" ")),
        split_pattern_(Pattern::literal(replacement_)),
        split_(field.boolean_or("split", true)) {
    if (replacement_.empty()) field["replacement"].fail("expected one character");
    if (const auto scheme = field.optional("prepend_scheme")) {
      const std::string name = scheme->string();
      if (name == "always") scheme_ = PrependScheme::always;
      else if (name == "first") scheme_ = PrependScheme::first;
      else if (name == "never") scheme_ = PrependScheme::never;
      else scheme->fail("prepend_scheme '" + name + "' is not one of always, first, never");
    } else {
      // Files written before prepend_scheme existed say add_prefix_space (true: always).
      scheme_ = field.boolean_or("add_prefix_space", true) ? PrependScheme::always : PrependScheme::never;
    }
  }

  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (auto& piece : pieces) {
      piece.text = spaces_.replace_all(piece.text, replacement_);
      const bool prepend = scheme_ == PrependScheme::always || (scheme_ == PrependScheme::first && piece.starts_input);
      if (prepend && piece.text.compare(0, replacement_.size(), replacement_) != 0) piece.text.insert(0, replacement_);
    }
    if (split_) split_pieces(pieces, split_pattern_, false, SplitBehavior::merged_with_next);
  }

 private:
  std::string replacement_;
  Pattern spaces_;
  Pattern split_pattern_;
  bool split_;
  PrependScheme scheme_ = PrependScheme::always;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(const JsonField& field) {
    const JsonField list = field["pretokenizers"];
    for (std::size_t i = 0; i < list.size(); ++i) steps_.push_back(parse_pre_tokenizer(list.at(i)));
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& step : steps_) step->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const JsonField& field) {
  const std::string type = field.type();
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(field);
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(field.boolean_or("add_prefix_space", true),
                                                   field.boolean_or("use_regex", true));
  }
  if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(field);
  if (type == "Sequence") return std::make_unique<SequencePreTokenizer>(field);
  field.unsupported_type("pre_tokenizer", "Split, ByteLevel, Metaspace, Sequence");
}

std::unique_ptr<PreTokenizer> gpt2_pre_tokenizer() { return std::make_unique<ByteLevelPreTokenizer>(false, true); }

}  // namespace ladle::text::hf
