#include "lib/text/chat_message.h"

namespace ladle::text {

const char* role_name(ChatRole role) {
  switch (role) {
    case ChatRole::system: return "system";
    case ChatRole::user: return "user";
    case ChatRole::assistant: return "assistant";
  }
  return "unknown";
}

std::optional<ChatRole> parse_role(std::string_view name) {
  for (auto role : {ChatRole::system, ChatRole::user, ChatRole::assistant}) {
    if (name == role_name(role)) return role;
  }
  return std::nullopt;
}

}  // namespace ladle::text
