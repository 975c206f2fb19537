// Vocabulary: token strings <-> ids, with lookups by std::string_view (no allocation per lookup: the BPE model
// looks up every character of every new word).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ladle::text::hf {

class Vocabulary {
 public:
  // Adds a token; false (and nothing changes) when the token is already there.
  bool add(std::string token, std::uint32_t id);
  std::optional<std::uint32_t> find(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }
  // The tokens and ids, in the order added.
  struct Entry {
    std::string token;
    std::uint32_t id = 0;
  };
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  void grow();
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> slots_;  // open addressing: entry index + 1, 0 = empty
};

}  // namespace ladle::text::hf
