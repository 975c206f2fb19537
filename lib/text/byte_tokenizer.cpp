#include "lib/text/byte_tokenizer.h"

#include <algorithm>

#include "lib/util/error.h"

namespace ladle::text {

ByteTokenizer::ByteTokenizer(std::vector<std::string> symbols) : symbols_(std::move(symbols)) {
  for (std::size_t i = 0; i < symbols_.size(); ++i) {
    if (symbols_[i].empty()) throw Error("byte tokenizer: symbol " + std::to_string(i) + " is empty");
    if (std::find(symbols_.begin(), symbols_.begin() + static_cast<std::ptrdiff_t>(i), symbols_[i]) !=
        symbols_.begin() + static_cast<std::ptrdiff_t>(i)) {
      throw Error("byte tokenizer: symbol '" + symbols_[i] + "' is given twice");
    }
  }
}

std::vector<std::int64_t> ByteTokenizer::encode(const std::string& text) const {
  std::vector<std::int64_t> ids;
  ids.reserve(text.size());
  std::size_t position = 0;
  while (position < text.size()) {
    std::size_t best = symbols_.size();
    for (std::size_t s = 0; s < symbols_.size(); ++s) {
      const bool matches = text.compare(position, symbols_[s].size(), symbols_[s]) == 0;
      if (matches && (best == symbols_.size() || symbols_[s].size() > symbols_[best].size())) best = s;
    }
    if (best < symbols_.size()) {
      ids.push_back(kFirstSymbolId + static_cast<std::int64_t>(best));
      position += symbols_[best].size();
    } else {
      ids.push_back(kFirstByteId + static_cast<unsigned char>(text[position]));
      ++position;
    }
  }
  return ids;
}

std::string ByteTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string text;
  for (const auto id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error("byte tokenizer: token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                  std::to_string(vocab_size()) + ")");
    }
    if (id >= kFirstSymbolId) {
      text += symbols_[static_cast<std::size_t>(id - kFirstSymbolId)];
    } else if (id >= kFirstByteId) {
      text += static_cast<char>(id - kFirstByteId);
    }
  }
  return text;
}

std::int64_t ByteTokenizer::vocab_size() const { return kFirstSymbolId + static_cast<std::int64_t>(symbols_.size()); }

std::optional<std::int64_t> ByteTokenizer::piece_id(const std::string& piece) const {
  const auto found = std::find(symbols_.begin(), symbols_.end(), piece);
  if (found != symbols_.end()) return kFirstSymbolId + (found - symbols_.begin());
  if (piece.size() == 1) return kFirstByteId + static_cast<unsigned char>(piece[0]);
  return std::nullopt;
}

}  // namespace ladle::text
