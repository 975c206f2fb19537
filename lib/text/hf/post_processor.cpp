#include "lib/text/hf/post_processor.h"

#include <map>
#include <string>

namespace ladle::text::hf {
namespace {

// The "single" template: special tokens' ids and the sequence "A" in order (template.rs).
class TemplateProcessor final : public PostProcessor {
 public:
  explicit TemplateProcessor(const JsonField& field) {
    std::map<std::string, std::vector<std::int64_t>> specials;
    if (const auto table = field.optional("special_tokens")) {
      if (!table->is_object()) table->fail("expected an object of name -> {id, ids, tokens}");
      for (const auto& [name, value] : table->json().items()) {
        const JsonField ids = (*table)[name.c_str()]["ids"];
        for (std::size_t i = 0; i < ids.size(); ++i) specials[name].push_back(ids.at(i).token_id());
      }
    }
    const JsonField single = field["single"];
    for (std::size_t i = 0; i < single.size(); ++i) {
      const JsonField item = single.at(i);
      if (const auto special = item.optional("SpecialToken")) {
        const std::string name = (*special)["id"].string();
        const auto found = specials.find(name);
        if (found == specials.end()) special->fail("special token '" + name + "' is not in special_tokens");
        pieces_.push_back({false, found->second});
      } else if (const auto sequence = item.optional("Sequence")) {
        if ((*sequence)["id"].string() != "A") (*sequence)["id"].fail("a single template can only hold sequence A");
        pieces_.push_back({true, {}});
      } else {
        item.fail("expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
  }
  std::vector<std::int64_t> process(std::vector<std::int64_t> ids) const override {
    std::vector<std::int64_t> out;
    for (const auto& piece : pieces_) {
      const auto& source = piece.is_sequence ? ids : piece.ids;
      out.insert(out.end(), source.begin(), source.end());
    }
    return out;
  }

 private:
  struct TemplatePiece {
    bool is_sequence = false;        // the encoded text, else the special token's ids
    std::vector<std::int64_t> ids;
  };
  std::vector<TemplatePiece> pieces_;
};

// cls, the text, sep: RobertaProcessing and BertProcessing for one sequence ({"cls": ["<s>", 0], ...}).
class ClsSepProcessor final : public PostProcessor {
 public:
  // ["<s>", 0] -> 0
  static std::int64_t special_id(const JsonField& pair) {
    if (pair.size() != 2) pair.fail("expected [token, id]");
    return pair.at(1).token_id();
  }

  explicit ClsSepProcessor(const JsonField& field)
      : cls_(special_id(field["cls"])), sep_(special_id(field["sep"])) {}
  std::vector<std::int64_t> process(std::vector<std::int64_t> ids) const override {
    ids.insert(ids.begin(), cls_);
    ids.push_back(sep_);
    return ids;
  }

 private:
  std::int64_t cls_;
  std::int64_t sep_;
};

class IdentityProcessor final : public PostProcessor {
 public:
  std::vector<std::int64_t> process(std::vector<std::int64_t> ids) const override { return ids; }
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(const JsonField& field) {
    const JsonField list = field["processors"];
    for (std::size_t i = 0; i < list.size(); ++i) steps_.push_back(parse_post_processor(list.at(i)));
  }
  std::vector<std::int64_t> process(std::vector<std::int64_t> ids) const override {
    for (const auto& step : steps_) ids = step->process(std::move(ids));
    return ids;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

std::unique_ptr<PostProcessor> parse_post_processor(const JsonField& field) {
  const std::string type = field.type();
  if (type == "TemplateProcessing") return std::make_unique<TemplateProcessor>(field);
  if (type == "RobertaProcessing" || type == "BertProcessing") return std::make_unique<ClsSepProcessor>(field);
  if (type == "ByteLevel") return std::make_unique<IdentityProcessor>();
  if (type == "Sequence") return std::make_unique<SequenceProcessor>(field);
  field.unsupported_type("post_processor", "TemplateProcessing, RobertaProcessing, BertProcessing, ByteLevel, Sequence");
}

}  // namespace ladle::text::hf
