#include "lib/text/sentencepiece_model_pieces.h"

#include <cstdint>

namespace ladle::text {
namespace {

// Protobuf wire types (encoding guide): 0 varint, 2 length-delimited, 5 32-bit.
constexpr std::uint8_t kVarint = 0;
constexpr std::uint8_t kLengthDelimited = 2;
constexpr std::uint8_t kFixed32 = 5;
// sentencepiece_model.proto: ModelProto.pieces = 1; SentencePiece.piece = 1, score = 2, type = 3;
// SentencePiece.Type.USER_DEFINED = 4.
constexpr std::uint32_t kModelPieces = 1;
constexpr std::uint32_t kPieceText = 1;
constexpr std::uint32_t kPieceScore = 2;
constexpr std::uint32_t kPieceType = 3;
constexpr std::uint64_t kUserDefined = 4;

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_tag(std::string& out, std::uint32_t field, std::uint8_t wire_type) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | wire_type);
}

void put_bytes(std::string& out, std::uint32_t field, const std::string& bytes) {
  put_tag(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string user_defined_piece(const std::string& text) {
  std::string piece;
  put_bytes(piece, kPieceText, text);
  put_tag(piece, kPieceScore, kFixed32);
  piece.append(4, '\0');  // 0.0f, little-endian
  put_tag(piece, kPieceType, kVarint);
  put_varint(piece, kUserDefined);
  return piece;
}

}  // namespace

std::string append_user_defined_pieces(std::string model_proto, const std::vector<std::string>& pieces) {
  for (const auto& piece : pieces) put_bytes(model_proto, kModelPieces, user_defined_piece(piece));
  return model_proto;
}

}  // namespace ladle::text
