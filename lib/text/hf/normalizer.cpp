#include "lib/text/hf/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <vector>

#include "lib/text/hf/pattern.h"
#include "lib/util/error.h"

namespace ladle::text::hf {
namespace {

enum class UnicodeForm { nfc, nfd, nfkc, nfkd };

// Unicode normalization (UAX #15) with ICU; text already in the form passes through after a quick check.
class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) {
    UErrorCode status = U_ZERO_ERROR;
    switch (form) {
      case UnicodeForm::nfc: normalizer_ = icu::Normalizer2::getNFCInstance(status); break;
      case UnicodeForm::nfd: normalizer_ = icu::Normalizer2::getNFDInstance(status); break;
      case UnicodeForm::nfkc: normalizer_ = icu::Normalizer2::getNFKCInstance(status); break;
      case UnicodeForm::nfkd: normalizer_ = icu::Normalizer2::getNFKDInstance(status); break;
    }
    if (U_FAILURE(status)) throw Error(std::string("ICU normalizer unavailable: ") + u_errorName(status));
  }

  std::string normalize(std::string text) const override {
    UErrorCode status = U_ZERO_ERROR;
    if (normalizer_->isNormalizedUTF8(text, status) && U_SUCCESS(status)) return text;
    status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    normalizer_->normalizeUTF8(0, text, sink, nullptr, status);
    if (U_FAILURE(status)) throw Error(std::string("Unicode normalization failed: ") + u_errorName(status));
    return out;
  }

 private:
  const icu::Normalizer2* normalizer_ = nullptr;
};

// Every match of the pattern replaced by the content (tokenizers/src/normalizers/replace.rs).
class ReplaceNormalizer final : public Normalizer {
 public:
  explicit ReplaceNormalizer(const JsonField& field)
      : pattern_(field["pattern"]), content_(field["content"].string()) {}
  std::string normalize(std::string text) const override { return pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

// The prefix before non-empty text (tokenizers/src/normalizers/prepend.rs leaves empty text alone).
class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(const JsonField& field) : prefix_(field["prepend"].string()) {}
  std::string normalize(std::string text) const override { return text.empty() ? text : prefix_ + text; }

 private:
  std::string prefix_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(const JsonField& field) {
    const JsonField list = field["normalizers"];
    for (std::size_t i = 0; i < list.size(); ++i) steps_.push_back(parse_normalizer(list.at(i)));
  }
  std::string normalize(std::string text) const override {
    for (const auto& step : steps_) text = step->normalize(std::move(text));
    return text;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> parse_normalizer(const JsonField& field) {
  const std::string type = field.type();
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(UnicodeForm::nfkd);
  if (type == "Replace") return std::make_unique<ReplaceNormalizer>(field);
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(field);
  if (type == "Sequence") return std::make_unique<SequenceNormalizer>(field);
  field.unsupported_type("normalizer", "NFC, NFD, NFKC, NFKD, Replace, Prepend, Sequence");
}

}  // namespace ladle::text::hf
