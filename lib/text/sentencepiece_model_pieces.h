// Adding pieces to a sentencepiece model file (a serialized sentencepiece.ModelProto) without sentencepiece's
// protobuf classes: Debian 12's libsentencepiece-dev installs no sentencepiece_model.pb.h, so the ModelProto API
// is not reachable from C++ here. Protobuf's wire format gives a direct way instead: a serialized message followed
// by more serialized fields parses as the message with those fields merged in, and for a repeated field that means
// appended ("Merging" in protobuf's encoding guide). So each new piece is written as one more `pieces` entry
// (ModelProto field 1) after the file's bytes: SentencePiece{piece (1) = the text, score (2) = 0,
// type (3) = USER_DEFINED (4)}, which is what sentencepiece's own trainer writes for --user_defined_symbols.
// The result is loaded by libsentencepiece itself before it is used (merged_tokenizer.cpp).
#pragma once

#include <string>
#include <vector>

namespace ladle::text {

// The serialized model with `pieces` appended as USER_DEFINED pieces (ids piece_count, piece_count + 1, ...).
std::string append_user_defined_pieces(std::string model_proto, const std::vector<std::string>& pieces);

}  // namespace ladle::text
