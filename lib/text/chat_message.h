// One turn of a conversation: who speaks (system, user, assistant) and what they say.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ladle::text {

// The roles of Tulu v2 / OpenAI-style conversations.
enum class ChatRole { system, user, assistant };

// "system", "user", "assistant".
const char* role_name(ChatRole role);
// The role of its name (exact, lower case), or nullopt for any other string.
std::optional<ChatRole> parse_role(std::string_view name);

struct ChatMessage {
  ChatRole role = ChatRole::user;  // who speaks
  std::string content;             // what they say, UTF-8
};

inline bool operator==(const ChatMessage& a, const ChatMessage& b) {
  return a.role == b.role && a.content == b.content;
}

}  // namespace ladle::text
