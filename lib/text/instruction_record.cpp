#include "lib/text/instruction_record.h"

#include <fstream>
#include <set>

#include "lib/io/strict_json.h"
#include "lib/log/log.h"
#include "lib/text/whitespace.h"
#include "lib/util/error.h"
#include "lib/util/string_affixes.h"

namespace ladle::text {
namespace {

using nlohmann::json;

// Records nest three levels (line, messages, message); metadata may add a few more.
constexpr std::size_t kMaxJsonDepth = 16;

std::string type_of(const json& value) { return value.type_name(); }

// The string value of a field that must be present; throws naming the field otherwise.
const std::string& required_string(const json& object, const std::string& field, const std::string& label) {
  const auto found = object.find(field);
  if (found == object.end()) throw Error(label + ": missing field '" + field + "' (expected a string)");
  if (!found->is_string()) {
    throw Error(label + ": field '" + field + "' must be a string, got " + type_of(*found));
  }
  return found->get_ref<const std::string&>();
}

const std::string& non_blank_string(const json& object, const std::string& field, const std::string& label) {
  const auto& value = required_string(object, field, label);
  if (is_blank(value)) throw Error(label + ": field '" + field + "' is empty (expected non-blank text)");
  return value;
}

std::vector<ChatMessage> alpaca_messages(const json& line, const std::string& label) {
  auto user = strip_whitespace(non_blank_string(line, "instruction", label));
  if (const auto input = line.find("input"); input != line.end()) {
    if (!input->is_string()) throw Error(label + ": field 'input' must be a string, got " + type_of(*input));
    const auto& text = input->get_ref<const std::string&>();
    if (!is_blank(text)) user += "\n\n" + strip_whitespace(text);
  }
  return {{ChatRole::user, std::move(user)},
          {ChatRole::assistant, strip_whitespace(non_blank_string(line, "output", label))}};
}

ChatMessage chat_message(const json& message, const std::string& label) {
  if (!message.is_object()) {
    throw Error(label + ": must be an object with 'role' and 'content', got " + type_of(message));
  }
  for (const auto& [key, value] : message.items()) {
    if (key != "role" && key != "content") {
      throw Error(label + ": unexpected field " + io::quote_for_message(key) + " (expected only 'role' and 'content')");
    }
  }
  const auto& role_text = required_string(message, "role", label);
  const auto role = parse_role(role_text);
  if (!role) {
    throw Error(label + ": field 'role' is " + io::quote_for_message(role_text) +
                ", expected 'system', 'user' or 'assistant'");
  }
  return {*role, non_blank_string(message, "content", label)};
}

std::vector<ChatMessage> chat_messages(const json& line, const std::string& label) {
  const auto& list = line.at("messages");
  if (!list.is_array()) throw Error(label + ": field 'messages' must be an array, got " + type_of(list));
  if (list.empty()) {
    throw Error(label + ": field 'messages' is empty (expected at least a user and an assistant message)");
  }
  std::vector<ChatMessage> messages;
  bool has_user = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto message_label = label + ": messages[" + std::to_string(i) + "]";
    auto message = chat_message(list[i], message_label);
    if (message.role == ChatRole::system && i != 0) {
      throw Error(message_label + ": a 'system' message may only come first");
    }
    has_user = has_user || message.role == ChatRole::user;
    messages.push_back(std::move(message));
  }
  if (!has_user) throw Error(label + ": field 'messages' has no 'user' message");
  if (messages.back().role != ChatRole::assistant) {
    throw Error(label + ": field 'messages' must end with an 'assistant' message, got '" +
                role_name(messages.back().role) + "'");
  }
  return messages;
}

// Reads the next line into `line` (without its end). Returns false at the end of the file. A line longer than
// max_bytes is consumed but only its first max_bytes + 1 bytes are kept, so a huge line costs no huge buffer.
bool read_bounded_line(std::istream& in, std::string& line, std::size_t max_bytes) {
  line.clear();
  auto* buffer = in.rdbuf();
  bool any = false;
  for (;;) {
    const auto c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) return any;
    any = true;
    if (c == '\n') return true;
    if (line.size() <= max_bytes) line.push_back(static_cast<char>(c));
  }
}

}  // namespace

InstructionRecord parse_instruction_line(std::string_view text, const std::string& label) {
  const auto line = io::parse_json_strict(text, label, kMaxJsonDepth);
  if (!line.is_object()) throw Error(label + ": expected a JSON object, got " + type_of(line));

  const bool has_messages = line.contains("messages");
  const bool has_alpaca = line.contains("instruction") || line.contains("output");
  if (has_messages && has_alpaca) {
    throw Error(label + ": has both 'messages' and Alpaca fields ('instruction'/'output'); expected one format");
  }
  if (!has_messages && !has_alpaca) {
    throw Error(label + ": missing field 'messages' or 'instruction' and 'output' (not an instruction record)");
  }

  InstructionRecord record;
  record.messages = has_messages ? chat_messages(line, label) : alpaca_messages(line, label);
  if (const auto task = line.find("task"); task != line.end()) {
    if (!task->is_string()) throw Error(label + ": field 'task' must be a string, got " + type_of(*task));
    record.task = task->get<std::string>();
  }
  static const std::set<std::string> kRecordKeys = {"messages", "instruction", "input", "output", "task"};
  for (const auto& [key, value] : line.items()) {
    if (kRecordKeys.count(key) == 0) record.metadata[key] = value;
  }
  return record;
}

InstructionSet read_instruction_jsonl(const std::filesystem::path& path, const InstructionReadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open the instruction file");
  return read_instruction_jsonl(in, path.string(), options);
}

InstructionSet read_instruction_jsonl(std::istream& in, const std::string& name, const InstructionReadOptions& options) {
  InstructionSet set;
  std::string line;
  for (std::size_t number = 1; read_bounded_line(in, line, options.max_line_bytes); ++number) {
    if (number == 1 && starts_with(line, "\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto label = name + ":" + std::to_string(number);
    // Checked before blankness: only the start of an overlong line was kept.
    const bool too_long = line.size() > options.max_line_bytes;
    if (!too_long && is_blank(line)) continue;
    try {
      if (too_long) throw Error(label + ": line is longer than " + std::to_string(options.max_line_bytes) + " bytes");
      auto record = parse_instruction_line(line, label);
      record.line = number;
      set.records.push_back(std::move(record));
    } catch (const Error& error) {
      if (!options.skip_bad_lines) throw;
      LADLE_LOG(warning) << "skipping line: " << error.what();
      ++set.skipped_lines;
    }
  }
  if (in.bad()) throw Error(name + ": read error");
  if (set.records.empty()) {
    throw Error(name + ": no instruction records (" + std::to_string(set.skipped_lines) +
                " malformed lines skipped)");
  }
  if (set.skipped_lines > 0) {
    LADLE_LOG(warning) << name << ": skipped " << set.skipped_lines << " malformed lines, read "
                       << set.records.size() << " records";
  }
  return set;
}

}  // namespace ladle::text
