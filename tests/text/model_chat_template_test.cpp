// The chat templates of real models (data/tokenizers/*, fetched by scripts/fetch-hf-tokenizers.sh): rendered
// byte for byte as python3-jinja2 renders them with transformers' settings (tests/tools/jinja_reference.py),
// and the loss mask covering exactly each assistant reply and the end-of-turn token after it, with a byte
// tokenizer (spans read back as text) and with the model's own tokenizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/text/byte_tokenizer.h"
#include "lib/text/model_chat_template.h"
#include "lib/text/open_tokenizer.h"
#include "tests/support/command_runner.h"
#include "tests/support/test_helpers.h"

namespace ladle::text {
namespace {

namespace fs = std::filesystem;

struct Conversation {
  const char* name;
  std::vector<ChatMessage> messages;
  bool add_generation_prompt;
};

const std::vector<Conversation>& conversations() {
  static const std::vector<Conversation> all = {
      {"single_turn", {{ChatRole::user, "What is 2 + 2?"}, {ChatRole::assistant, "2 + 2 = 4."}}, false},
      {"multi_turn",
       {{ChatRole::user, "Hi there"},
        {ChatRole::assistant, "Hello! How can I help?"},
        {ChatRole::user, "Name a prime.\nJust one."},
        {ChatRole::assistant, "7"}},
       false},
      {"system_prompt",
       {{ChatRole::system, "You are terse."},
        {ChatRole::user, "Capital of France?"},
        {ChatRole::assistant, "Paris."}},
       false},
      {"generation_prompt", {{ChatRole::system, "Be kind."}, {ChatRole::user, "Say hi."}}, true},
      {"generation_prompt_multi_turn",
       {{ChatRole::user, "a"}, {ChatRole::assistant, "b"}, {ChatRole::user, "c"}},
       true},
      {"whitespace_and_unicode",
       {{ChatRole::user, "  Übersetze: \"naïve\" 😀 \n"}, {ChatRole::assistant, "\n  Naiv — 素朴 \t\n"}},
       false},
      {"no_generation_prompt_after_user", {{ChatRole::user, "Only a question"}}, false},
  };
  return all;
}

const char* const kModels[] = {"llama3_1", "qwen3", "gemma3", "deepseek_v3"};

fs::path model_folder(const std::string& model) {
  return fs::path(LADLE_SOURCE_DIR) / "data" / "tokenizers" / model;
}

nlohmann::json conversation_json(const Conversation& conversation) {
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& message : conversation.messages) {
    messages.push_back({{"role", role_name(message.role)}, {"content", message.content}});
  }
  return {{"messages", messages}, {"add_generation_prompt", conversation.add_generation_prompt}};
}

// python3-jinja2's renderings of every conversation with the model's template.
std::vector<nlohmann::json> reference_renderings(const std::string& model) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& conversation : conversations()) all.push_back(conversation_json(conversation));
  const auto dir = testing::make_temp_dir("chat_reference");
  std::ofstream(dir + "/conversations.json") << all.dump();
  const auto result = testing::run_command(
      testing::python_program(), {std::string(LADLE_SOURCE_DIR) + "/tests/tools/jinja_reference.py", "chat",
                                  (model_folder(model) / "tokenizer_config.json").string(), dir + "/conversations.json"});
  fs::remove_all(dir);
  if (result.exit_code != 0) throw std::runtime_error("jinja_reference.py failed: " + result.err);
  return nlohmann::json::parse(result.out).get<std::vector<nlohmann::json>>();
}

class RealChatTemplate : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (!fs::exists(model_folder(GetParam()) / "tokenizer_config.json")) {
      GTEST_SKIP() << "data/tokenizers/" << GetParam() << " is missing (run scripts/fetch-hf-tokenizers.sh)";
    }
    chat_ = read_model_chat_template(model_folder(GetParam()));
    ASSERT_NE(chat_, nullptr);
  }

  // A byte tokenizer that knows the template's end-of-turn as one symbol, so that labels read back as text.
  ByteTokenizer tokenizer() const { return ByteTokenizer({chat_->end_of_turn()}); }

  std::shared_ptr<const ModelChatTemplate> chat_;
};

TEST_P(RealChatTemplate, RendersEveryConversationAsPythonJinja2Does) {
  const auto expected = reference_renderings(GetParam());
  ASSERT_EQ(expected.size(), conversations().size());
  for (std::size_t i = 0; i < conversations().size(); ++i) {
    const auto& conversation = conversations()[i];
    ASSERT_TRUE(expected[i].contains("output")) << conversation.name << ": " << expected[i].dump();
    EXPECT_EQ(chat_->render(conversation.messages, conversation.add_generation_prompt),
              expected[i]["output"].get<std::string>())
        << GetParam() << " / " << conversation.name;
  }
}

// Each reply of a conversation as the template writes it, closed by the end of turn: Llama 3 and Gemma 3 trim
// it; Qwen3 strips the leading newlines of a reply after the last user message (its thinking branch); DeepSeek V3
// writes it as it is.
std::vector<std::string> written_replies(const std::string& model, const Conversation& conversation,
                                         const std::string& eot) {
  std::vector<std::string> replies;
  for (std::size_t m = 0; m < conversation.messages.size(); ++m) {
    const auto& content = conversation.messages[m].content;
    if (conversation.messages[m].role != ChatRole::assistant) continue;
    std::string written = content;
    if (model == "llama3_1" || model == "gemma3") {
      const auto first = content.find_first_not_of(" \t\n");
      written = content.substr(first, content.find_last_not_of(" \t\n") - first + 1);
    } else if (model == "qwen3" && m + 1 == conversation.messages.size()) {
      written = content.substr(content.find_first_not_of('\n'));
    }
    replies.push_back(written + eot);
  }
  return replies;
}

// The runs of trained tokens of an example (labels equal to their ids, checked), in order.
std::vector<std::vector<std::int64_t>> trained_runs(const TokenizedExample& example) {
  std::vector<std::vector<std::int64_t>> runs;
  std::vector<std::int64_t> run;
  for (std::size_t t = 0; t <= example.labels.size(); ++t) {
    if (t < example.labels.size() && example.labels[t] != kIgnoreLabel) {
      EXPECT_EQ(example.labels[t], example.input_ids[t]);
      run.push_back(example.labels[t]);
    } else if (!run.empty()) {
      runs.push_back(run);
      run.clear();
    }
  }
  return runs;
}

// The trained tokens read back as the replies, each closed by the end of turn; everything else is the
// template's text, and all of it together is the rendering python3-jinja2 makes.
TEST_P(RealChatTemplate, LossCoversExactlyTheRepliesAndTheirEndOfTurn) {
  const auto expected = reference_renderings(GetParam());
  const auto bytes = tokenizer();
  for (std::size_t i = 0; i < conversations().size(); ++i) {
    const auto& conversation = conversations()[i];
    if (conversation.messages.back().role != ChatRole::assistant) continue;
    const auto example = chat_->encode(conversation.messages, bytes);
    EXPECT_EQ(bytes.decode(example.input_ids), expected[i]["output"].get<std::string>()) << conversation.name;
    std::vector<std::string> spans;
    for (const auto& run : trained_runs(example)) spans.push_back(bytes.decode(run));
    EXPECT_EQ(spans, written_replies(GetParam(), conversation, chat_->end_of_turn()))
        << GetParam() << " / " << conversation.name;
    EXPECT_EQ(chat_->end_of_turn_id(bytes), ByteTokenizer::kFirstSymbolId);
  }
}

// tokenizer.json's added tokens (read from the file itself): content -> {id, special}.
using AddedTokens = std::map<std::string, std::pair<std::int64_t, bool>>;

AddedTokens added_tokens(const fs::path& folder) {
  std::ifstream in(folder / "tokenizer.json");
  const nlohmann::json tokenizer = nlohmann::json::parse(in);
  AddedTokens tokens;
  for (const auto& token : tokenizer.at("added_tokens")) {
    tokens[token.at("content").get<std::string>()] = {token.at("id").get<std::int64_t>(),
                                                       token.at("special").get<bool>()};
  }
  return tokens;
}

// `text` without the special added tokens' texts, longest first: what decode() (which skips them) gives back.
std::string without_special_tokens(std::string text, const AddedTokens& tokens) {
  std::vector<std::string> special;
  for (const auto& [content, token] : tokens) {
    if (token.second) special.push_back(content);
  }
  std::sort(special.begin(), special.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& content : special) {
    for (auto at = text.find(content); at != std::string::npos; at = text.find(content, at)) {
      text.erase(at, content.size());
    }
  }
  return text;
}

// The same with the model's real tokenizer: each trained run is one reply's own tokens followed by the single
// end-of-turn token (its id as tokenizer.json's added_tokens list it); the example holds the end-of-turn id as
// often as python3-jinja2's rendering holds its text, and decodes to that rendering less its special tokens.
TEST_P(RealChatTemplate, LossWithTheRealTokenizerCoversExactlyTheRepliesAndTheirEndOfTurnToken) {
  const auto expected = reference_renderings(GetParam());
  const auto real = open_tokenizer(model_folder(GetParam()));
  const auto tokens = added_tokens(model_folder(GetParam()));
  const std::string eot = chat_->end_of_turn();
  ASSERT_EQ(tokens.count(eot), 1u) << eot << " is not an added token of " << GetParam();
  const std::int64_t eot_id = tokens.at(eot).first;
  EXPECT_EQ(chat_->end_of_turn_id(*real), eot_id);
  for (std::size_t i = 0; i < conversations().size(); ++i) {
    const auto& conversation = conversations()[i];
    if (conversation.messages.back().role != ChatRole::assistant) continue;
    SCOPED_TRACE(std::string(GetParam()) + " / " + conversation.name);
    const std::string rendering = expected[i]["output"].get<std::string>();
    const auto example = chat_->encode(conversation.messages, *real);
    EXPECT_EQ(real->decode(example.input_ids), without_special_tokens(rendering, tokens));
    std::size_t eot_texts = 0;
    for (auto at = rendering.find(eot); at != std::string::npos; at = rendering.find(eot, at + eot.size())) {
      ++eot_texts;
    }
    EXPECT_EQ(static_cast<std::size_t>(std::count(example.input_ids.begin(), example.input_ids.end(), eot_id)),
              eot_texts);
    const auto runs = trained_runs(example);
    const auto replies = written_replies(GetParam(), conversation, "");
    ASSERT_EQ(runs.size(), replies.size());
    for (std::size_t r = 0; r < runs.size(); ++r) {
      EXPECT_EQ(runs[r].back(), eot_id) << "reply " << r;
      EXPECT_EQ(std::count(runs[r].begin(), runs[r].end(), eot_id), 1) << "reply " << r;
      const std::vector<std::int64_t> reply(runs[r].begin(), runs[r].end() - 1);
      EXPECT_EQ(real->decode(reply), replies[r]) << "reply " << r;
    }
  }
}

TEST_P(RealChatTemplate, GenerationPromptIsTheRenderingWithTheAssistantHeader) {
  const auto expected = reference_renderings(GetParam());
  const auto bytes = tokenizer();
  for (std::size_t i = 0; i < conversations().size(); ++i) {
    const auto& conversation = conversations()[i];
    if (!conversation.add_generation_prompt) continue;
    EXPECT_EQ(bytes.decode(chat_->encode_prompt(conversation.messages, bytes)), expected[i]["output"].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Models, RealChatTemplate, ::testing::ValuesIn(kModels),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

// ---- small templates for behaviour the real ones do not show ----

ModelChatTemplate im_template(ModelChatTemplateOptions options = {}) {
  const std::string source =
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
  jinja::Dict tokens;
  tokens.set("eos_token", jinja::Value("<|im_end|>"));
  return ModelChatTemplate(source, tokens, "<|im_end|>", options);
}

TEST(ModelChatTemplate, ShortenPromptCutsTheUserContentAndKeepsTheReply) {
  const ByteTokenizer bytes({"<|im_start|>", "<|im_end|>"});
  ModelChatTemplateOptions options;
  options.max_length = 30;
  const auto chat = im_template(options);
  const std::vector<ChatMessage> messages = {{ChatRole::user, std::string(40, 'q')}, {ChatRole::assistant, "ok"}};
  const auto example = chat.encode(messages, bytes);
  ASSERT_EQ(example.input_ids.size(), 30u);
  // Around the prompt: <|im_start|> "user\n" (6 tokens), <|im_end|> "\n" <|im_start|> "assistant\n" (13),
  // "ok" <|im_end|> (3), "\n" (1): 23 tokens, so the prompt keeps 30 - 23 = 7 of its 40 bytes.
  std::string decoded = bytes.decode(example.input_ids);
  EXPECT_EQ(decoded, "<|im_start|>user\n" + std::string(7, 'q') + "<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n");
}

TEST(ModelChatTemplate, ReplyWithoutTheEndOfTurnIsAnError) {
  jinja::Dict tokens;
  const ModelChatTemplate chat("{% for m in messages %}{{ m.content }}\n{% endfor %}", tokens, "</s>");
  const ByteTokenizer bytes;
  const auto message = testing::error_message(
      [&] { chat.encode({{ChatRole::user, "a"}, {ChatRole::assistant, "b"}}, bytes); });
  EXPECT_TRUE(testing::contains(message, "does not close assistant message 1 with the end-of-turn text '</s>'")) << message;
}

TEST(ModelChatTemplate, ContentDependentTemplateTextIsAnError) {
  // Qwen3 moves a reply's "<think>...</think>" part elsewhere: the text around the reply changes with it.
  if (!fs::exists(model_folder("qwen3") / "tokenizer_config.json")) GTEST_SKIP() << "data/tokenizers/qwen3 missing";
  const auto chat = read_model_chat_template(model_folder("qwen3"));
  const ByteTokenizer bytes({"<|im_end|>"});
  const auto message = testing::error_message([&] {
    chat->encode({{ChatRole::user, "q"}, {ChatRole::assistant, "<think>r</think>answer"}}, bytes);
  });
  EXPECT_TRUE(testing::contains(message, "message 1")) << message;
}

TEST(ModelChatTemplate, FolderWithoutATemplateHasNone) {
  const auto dir = testing::make_temp_dir("no_template");
  EXPECT_EQ(read_model_chat_template(dir), nullptr);
  std::ofstream(dir + "/tokenizer_config.json") << R"({"eos_token": "</s>"})";
  EXPECT_EQ(read_model_chat_template(dir), nullptr);
  fs::remove_all(dir);
}

TEST(ModelChatTemplate, TemplateWithoutEosTokenIsAnErrorNamingTheFile) {
  const auto dir = testing::make_temp_dir("no_eos");
  std::ofstream(dir + "/tokenizer_config.json") << R"({"chat_template": "{{ messages }}"})";
  const auto message = testing::error_message([&] { read_model_chat_template(dir); });
  EXPECT_TRUE(testing::contains(message, "tokenizer_config.json: eos_token")) << message;
  fs::remove_all(dir);
}

// A list of named templates whose entries have a name or template of another type (the tokenizer_config fuzzer,
// 2026-12-08, after 2.78 M executions: {"name": 9223372036854775807} escaped as nlohmann's type_error, a crash).
TEST(ModelChatTemplate, NamedTemplatesOfTheWrongTypeAreAnErrorNamingTheFile) {
  for (const std::string entries : {R"([{"name": 9223372036854775807}])", R"([{"name": "default", "template": 3}])",
                                    R"([{"name": ["default"], "template": "{{ messages }}"}])", R"([7, null])"}) {
    const auto message = testing::error_message([&] {
      parse_model_chat_template(R"({"eos_token": "</s>", "chat_template": )" + entries + "}", std::nullopt, "model");
    });
    EXPECT_TRUE(testing::contains(message, "tokenizer_config.json: chat_template: expected a string or a list"))
        << entries << ": " << message;
  }
  // The default entry of a well-formed list is used, whatever else the list holds.
  const auto chat = parse_model_chat_template(
      R"({"eos_token": "</s>", "chat_template": [{"name": 1}, {"name": "default", "template": "x"}]})", std::nullopt,
      "model");
  ASSERT_NE(chat, nullptr);
}

}  // namespace
}  // namespace ladle::text
