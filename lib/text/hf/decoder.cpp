#include "lib/text/hf/decoder.h"

#include <cstdlib>

#include "lib/text/hf/byte_level_alphabet.h"
#include "lib/text/hf/pattern.h"
#include "lib/text/utf8.h"

namespace ladle::text::hf {
namespace {

// The bytes of the byte-level alphabet, as one lossy UTF-8 string; a token with a character outside the
// alphabet (an added token) keeps its own bytes (byte_level.rs decode_chain).
class ByteLevelDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    const auto& alphabet = ByteLevelAlphabet::instance();
    std::string bytes;
    for (const auto& token : tokens) {
      if (!alphabet.decode(token, bytes)) bytes += token;
    }
    return {utf8_lossy(bytes)};
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  explicit ReplaceDecoder(const JsonField& field) : pattern_(field["pattern"]), content_(field["content"].string()) {}
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& token : tokens) token = pattern_.replace_all(token, content_);
    return tokens;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

// "<0xE4>" tokens back to bytes: a run of them that is valid UTF-8 becomes its text, an invalid run one U+FFFD
// per byte (byte_fallback.rs).
class ByteFallbackDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string run;
    std::size_t run_length = 0;
    const auto flush = [&] {
      if (run_length == 0) return;
      if (find_invalid_utf8(run) == std::string::npos) {
        out.push_back(run);
      } else {
        for (std::size_t i = 0; i < run_length; ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      run.clear();
      run_length = 0;
    };
    for (auto& token : tokens) {
      const int byte = byte_of(token);
      if (byte >= 0) {
        run += static_cast<char>(byte);
        ++run_length;
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    return out;
  }

 private:
  // The byte of a "<0xXX>" token (hex digits in either case, as u8::from_str_radix), or -1.
  static int byte_of(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
    const auto hex = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    };
    const int high = hex(token[3]), low = hex(token[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
  }
};

class FuseDecoder final : public Decoder {
 public:
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    std::string joined;
    for (const auto& token : tokens) joined += token;
    return {joined};
  }
};

// Up to `start` copies of a character removed from the front of every token and up to `stop` from the back
// (strip.rs).
class StripDecoder final : public Decoder {
 public:
  explicit StripDecoder(const JsonField& field)
      : content_(field["content"].string()), start_(field.count_or("start", 0)), stop_(field.count_or("stop", 0)) {
    if (content_.empty() || utf8_length(static_cast<unsigned char>(content_[0])) != content_.size()) {
      field["content"].fail("expected one character");
    }
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (auto& token : tokens) {
      std::size_t front = 0;
      for (std::uint32_t i = 0; i < start_ && token.compare(front, content_.size(), content_) == 0; ++i) {
        front += content_.size();
      }
      std::size_t back = token.size();
      for (std::uint32_t i = 0; i < stop_ && back >= front + content_.size() &&
                                token.compare(back - content_.size(), content_.size(), content_) == 0;
           ++i) {
        back -= content_.size();
      }
      token = token.substr(front, back - front);
    }
    return tokens;
  }

 private:
  std::string content_;
  std::uint32_t start_;
  std::uint32_t stop_;
};

// The replacement character back to spaces; the space a prepend scheme added before the first token removed
// (metaspace.rs).
class MetaspaceDecoder final : public Decoder {
 public:
  explicit MetaspaceDecoder(const JsonField& field)
      : replacement_(Pattern::literal(field["replacement"].string())) {
    if (const auto scheme = field.optional("prepend_scheme")) {
      strip_first_space_ = scheme->string() != "never";
    } else {
      strip_first_space_ = field.boolean_or("add_prefix_space", true);
    }
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = replacement_.replace_all(tokens[i], " ");
      if (i == 0 && strip_first_space_ && !tokens[i].empty() && tokens[i][0] == ' ') tokens[i].erase(0, 1);
    }
    return tokens;
  }

 private:
  Pattern replacement_;
  bool strip_first_space_ = true;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(const JsonField& field) {
    const JsonField list = field["decoders"];
    for (std::size_t i = 0; i < list.size(); ++i) steps_.push_back(parse_decoder(list.at(i)));
  }
  std::vector<std::string> decode_chain(std::vector<std::string> tokens) const override {
    for (const auto& step : steps_) tokens = step->decode_chain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> parse_decoder(const JsonField& field) {
  const std::string type = field.type();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") return std::make_unique<ReplaceDecoder>(field);
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") return std::make_unique<StripDecoder>(field);
  if (type == "Metaspace") return std::make_unique<MetaspaceDecoder>(field);
  if (type == "Sequence") return std::make_unique<SequenceDecoder>(field);
  field.unsupported_type("decoder", "ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence");
}

std::unique_ptr<Decoder> byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }

}  // namespace ladle::text::hf
