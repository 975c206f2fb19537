#include "lib/text/instruction_dataset.h"

#include <algorithm>
#include <sstream>

#include "lib/log/log.h"

namespace ladle::text {
namespace {

constexpr std::size_t kLinesNamed = 5;

std::string first_lines(const std::vector<std::size_t>& lines) {
  std::ostringstream text;
  for (std::size_t i = 0; i < lines.size() && i < kLinesNamed; ++i) text << (i ? ", " : "") << lines[i];
  if (lines.size() > kLinesNamed) text << ", ...";
  return text.str();
}

}  // namespace

std::shared_ptr<const TokenizedDataset> tokenize_instructions(const std::vector<InstructionRecord>& records,
                                                              const ChatFormat& chat_format,
                                                              const Tokenizer& tokenizer) {
  const auto end_of_turn = chat_format.end_of_turn_id(tokenizer);
  std::vector<TokenizedExample> examples;
  examples.reserve(records.size());
  std::vector<std::size_t> dropped_lines;
  std::vector<std::size_t> cut_lines;
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto example = chat_format.encode(records[i].messages, tokenizer);
    if (std::all_of(example.labels.begin(), example.labels.end(), [](std::int64_t label) { return label == kIgnoreLabel; })) {
      dropped_lines.push_back(records[i].line);
      continue;
    }
    // Every reply is closed by a trained end-of-turn token, so a missing one means a reply was cut.
    const auto replies = std::count_if(records[i].messages.begin(), records[i].messages.end(),
                                       [](const ChatMessage& message) { return message.role == ChatRole::assistant; });
    if (std::count(example.labels.begin(), example.labels.end(), end_of_turn.value_or(kIgnoreLabel)) < replies) {
      cut_lines.push_back(records[i].line);
    }
    example.task = records[i].task;
    example.source_index = i;
    examples.push_back(std::move(example));
  }
  const auto max_length = chat_format.max_length();
  if (!dropped_lines.empty()) {
    LADLE_LOG(warning) << "dropped " << dropped_lines.size() << " of " << records.size()
                       << " instruction examples with no reply token left within max_length " << max_length
                       << " (lines " << first_lines(dropped_lines) << ")";
  }
  if (!cut_lines.empty()) {
    LADLE_LOG(warning) << cut_lines.size() << " of " << records.size() << " instruction examples lost the end of "
                       << "their reply to max_length " << max_length << " (lines " << first_lines(cut_lines) << ")";
  }
  return std::make_shared<TokenizedDataset>(std::move(examples));
}

}  // namespace ladle::text
