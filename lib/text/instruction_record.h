// Instruction data in JSON Lines: each line one record, in either of the two formats of scripts/data/README.md.
//   Alpaca:   {"instruction": "...", "input": "...", "output": "...", "task": "..."}      (input optional)
//   messages: {"messages": [{"role": "user", "content": "..."}, ...], "task": "..."}
// Both become the same InstructionRecord: a conversation that ends with the assistant's reply. Any other
// top-level key (e.g. the shifted set's "shift") is kept as metadata.
#pragma once

#include <cstddef>
#include <filesystem>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lib/text/chat_message.h"

namespace ladle::text {

struct InstructionRecord {
  std::vector<ChatMessage> messages;                   // the conversation, ending with the assistant's reply
  std::string task;                                    // the line's "task" ("" when it has none)
  nlohmann::json metadata = nlohmann::json::object();  // the line's other keys, e.g. {"shift": "domain"}
  std::size_t line = 0;                                // 1-based line number in the file it came from
};

struct InstructionReadOptions {
  bool skip_bad_lines = false;            // log each malformed line at warning and go on, instead of throwing
  std::size_t max_line_bytes = 1u << 20;  // a longer line is malformed (guards against reading a non-JSONL file)
};

// The records of one file, in file order, and how many malformed lines were skipped.
struct InstructionSet {
  std::vector<InstructionRecord> records;
  std::size_t skipped_lines = 0;
};

// Reads a JSON Lines file of instruction records. Blank lines are ignored; a UTF-8 byte-order mark and "\r\n"
// line ends are accepted. A malformed line (invalid JSON or UTF-8, a missing or mistyped field, an empty
// instruction or output, an unknown role, a line over max_line_bytes) throws ladle::Error "FILE:LINE: ..." naming
// the field, or is skipped and counted with options.skip_bad_lines. Throws when the file cannot be read or holds
// no record at all.
InstructionSet read_instruction_jsonl(const std::filesystem::path& path, const InstructionReadOptions& options = {});
// The same from a stream; `name` stands for the file in messages ("NAME:LINE: ...").
InstructionSet read_instruction_jsonl(std::istream& in, const std::string& name,
                                      const InstructionReadOptions& options = {});

// One line's record (line number left 0). `label` starts every error message, e.g. "train.jsonl:12".
//
// Alpaca lines follow open-instruct's conversion of Alpaca data to messages (encode_instruction_example with
// random_template=False, which Tulu v2's mixture used): the user message is the stripped instruction, then a
// blank line and the stripped input when the input is not blank; the stripped output is the assistant's reply.
// scripts/data writes its messages/ files the same way, so both files of a split give equal records.
//
// Messages lines: roles "system", "user", "assistant" with string "content" (no other keys); a system message
// only first; at least one user message; the last message is the assistant's. Contents must not be blank.
InstructionRecord parse_instruction_line(std::string_view line, const std::string& label);

}  // namespace ladle::text
