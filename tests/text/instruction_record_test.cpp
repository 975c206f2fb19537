// Reading instruction JSONL: both formats, metadata, and hostile lines reported by file, line and field.
#include "lib/text/instruction_record.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "lib/util/error.h"
#include "tests/support/command_runner.h"

namespace ladle::text {
namespace {

class InstructionRecordTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ladle::testing::make_temp_dir("instructions"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& contents) {
    const auto path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    return path;
  }

  std::string dir_;
};

const std::string kGoodLine = R"({"instruction":"Q","output":"A"})";

std::vector<ChatMessage> user_then_assistant(const std::string& user, const std::string& assistant) {
  return {{ChatRole::user, user}, {ChatRole::assistant, assistant}};
}

TEST_F(InstructionRecordTest, AlpacaAndMessagesLinesGiveTheSameRecord) {
  // The same record in the two formats scripts/data writes (instruction, blank line, input).
  const auto alpaca = write(
      "alpaca.jsonl", R"({"instruction":"Is this email spam?","input":"Win money now","output":"yes","task":"spam"})");
  const auto messages =
      write("messages.jsonl", R"({"messages":[{"role":"user","content":"Is this email spam?\n\nWin money now"},)"
                              R"({"role":"assistant","content":"yes"}],"task":"spam"})");
  const auto a = read_instruction_jsonl(alpaca).records.at(0);
  const auto m = read_instruction_jsonl(messages).records.at(0);
  EXPECT_EQ(a.messages, user_then_assistant("Is this email spam?\n\nWin money now", "yes"));
  EXPECT_EQ(a.messages, m.messages);
  EXPECT_EQ(a.task, "spam");
  EXPECT_EQ(m.task, "spam");
  EXPECT_EQ(a.metadata, m.metadata);
}

TEST_F(InstructionRecordTest, AlpacaStripsFieldsAndLeavesOutABlankInput) {
  const auto path = write("a.jsonl", R"({"instruction":"  Define \"fence\". ","input":" \n","output":" a barrier\n"})");
  const auto record = read_instruction_jsonl(path).records.at(0);
  EXPECT_EQ(record.messages, user_then_assistant("Define \"fence\".", "a barrier"));
  EXPECT_EQ(record.task, "");
}

TEST_F(InstructionRecordTest, OtherKeysBecomeMetadata) {
  const auto path =
      write("shifted.jsonl", R"({"instruction":"Q","input":"","output":"A","task":"capital","shift":"template"})");
  const auto record = read_instruction_jsonl(path).records.at(0);
  EXPECT_EQ(record.metadata, nlohmann::json({{"shift", "template"}}));
}

TEST_F(InstructionRecordTest, SystemMessageIsKept) {
  const auto path = write("m.jsonl", R"({"messages":[{"role":"system","content":"Be brief."},)"
                                     R"({"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]})");
  const auto record = read_instruction_jsonl(path).records.at(0);
  const std::vector<ChatMessage> expected = {
      {ChatRole::system, "Be brief."}, {ChatRole::user, "Hi"}, {ChatRole::assistant, "Hello"}};
  EXPECT_EQ(record.messages, expected);
}

TEST_F(InstructionRecordTest, BlankLinesAreIgnoredAndLineNumbersArePhysical) {
  const std::string first = R"({"instruction":"Q1","output":"A1"})";
  const std::string fourth = R"({"instruction":"Q2","output":"A2"})";
  const auto path = write("a.jsonl", "\xEF\xBB\xBF" + first + "\r\n\n   \n" + fourth + "\n\n");
  const auto set = read_instruction_jsonl(path);
  ASSERT_EQ(set.records.size(), 2u);
  EXPECT_EQ(set.records[0].line, 1u);
  EXPECT_EQ(set.records[1].line, 4u);
  EXPECT_EQ(set.records[1].messages, user_then_assistant("Q2", "A2"));
  EXPECT_EQ(set.skipped_lines, 0u);
}

struct MalformedCase {
  std::string line;      // the bad line (written as line 3, after a good line and a blank one)
  std::string expected;  // a part of the error message
};

TEST_F(InstructionRecordTest, MalformedLinesAreReportedWithFileLineAndField) {
  const std::vector<MalformedCase> cases = {
      {R"(not json)", "invalid JSON"},
      {"{\"instruction\":\"\xFF\",\"output\":\"A\"}", "invalid JSON"},
      {R"({"instruction":"Q","output":"A","instruction":"R"})", "duplicate key 'instruction'"},
      {R"([1, 2])", "expected a JSON object, got array"},
      {R"({"task":"spam"})", "missing field 'messages' or 'instruction' and 'output'"},
      {R"({"instruction":"Q"})", "missing field 'output'"},
      {R"({"output":"A"})", "missing field 'instruction'"},
      {R"({"instruction":3,"output":"A"})", "field 'instruction' must be a string, got number"},
      {R"({"instruction":"Q","output":""})", "field 'output' is empty"},
      {R"({"instruction":"Q","output":" \t"})", "field 'output' is empty"},
      {R"({"instruction":"Q","input":null,"output":"A"})", "field 'input' must be a string, got null"},
      {R"({"instruction":"Q","output":"A","task":7})", "field 'task' must be a string"},
      {R"({"messages":"hello"})", "field 'messages' must be an array, got string"},
      {R"({"messages":[]})", "field 'messages' is empty"},
      {R"({"messages":[{"role":"bot","content":"Q"},{"role":"assistant","content":"A"}]})",
       "messages[0]: field 'role' is 'bot', expected 'system', 'user' or 'assistant'"},
      {R"({"messages":[{"role":"user"},{"role":"assistant","content":"A"}]})", "messages[0]: missing field 'content'"},
      {R"({"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":""}]})",
       "messages[1]: field 'content' is empty"},
      {R"({"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A","name":"x"}]})",
       "messages[1]: unexpected field 'name'"},
      {R"({"messages":["Q"]})", "messages[0]: must be an object"},
      {R"({"messages":[{"role":"user","content":"Q"}]})", "must end with an 'assistant' message, got 'user'"},
      {R"({"messages":[{"role":"assistant","content":"A"}]})", "has no 'user' message"},
      {R"({"messages":[{"role":"user","content":"Q"},{"role":"system","content":"S"},{"role":"assistant","content":"A"}]})",
       "messages[1]: a 'system' message may only come first"},
      {R"({"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"}],"instruction":"Q","output":"A"})",
       "has both 'messages' and Alpaca fields"},
  };
  for (const auto& c : cases) {
    const auto path = write("bad.jsonl", kGoodLine + "\n\n" + c.line + "\n");
    try {
      read_instruction_jsonl(path);
      ADD_FAILURE() << "no error for: " << c.line;
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind(path + ":3: ", 0), 0u) << message;
      EXPECT_NE(message.find(c.expected), std::string::npos) << "line: " << c.line << "\nmessage: " << message;
    }
  }
}

TEST_F(InstructionRecordTest, OverlongLineIsRejected) {
  const auto path = write("long.jsonl", R"({"instruction":"Q","output":")" + std::string(100, 'a') + "\"}\n");
  InstructionReadOptions options;
  options.max_line_bytes = 64;
  try {
    read_instruction_jsonl(path, options);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(path + ":1: line is longer than 64 bytes"), std::string::npos)
        << error.what();
  }
}

TEST_F(InstructionRecordTest, SkipBadLinesKeepsTheRestAndCountsTheSkipped) {
  const auto path =
      write("mixed.jsonl", kGoodLine + "\n{broken\n" + kGoodLine + "\n" + R"({"instruction":"Q4","output":""})" + "\n");
  InstructionReadOptions options;
  options.skip_bad_lines = true;
  const auto set = read_instruction_jsonl(path, options);
  ASSERT_EQ(set.records.size(), 2u);
  EXPECT_EQ(set.records[0].line, 1u);
  EXPECT_EQ(set.records[1].line, 3u);
  EXPECT_EQ(set.skipped_lines, 2u);
}

TEST_F(InstructionRecordTest, FileWithoutRecordsIsAnError) {
  EXPECT_THROW(read_instruction_jsonl(write("empty.jsonl", "\n\n")), Error);
  EXPECT_THROW(read_instruction_jsonl(dir_ + "/missing.jsonl"), Error);
  InstructionReadOptions options;
  options.skip_bad_lines = true;
  EXPECT_THROW(read_instruction_jsonl(write("bad.jsonl", "{}\n"), options), Error);
}

}  // namespace
}  // namespace ladle::text
