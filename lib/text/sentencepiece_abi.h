// The C ABI between ladle and its sentencepiece module (libladle_sentencepiece.so).
//
// Why a module: Debian's libsentencepiece.so.0 exports a bundled protobuf-lite 3.14 while libtorch_cpu.so uses
// the system protobuf 3.21; linked into one process the two clash (a crash before main, or a protobuf version
// abort). Only the module links sentencepiece, and ladle loads it with dlmopen(LM_ID_NEWLM) into a link-map
// namespace of its own, with its own copies of its dependencies. (docs/building.md §1. dlopen with
// RTLD_DEEPBIND is not enough: it crashes as soon as sentencepiece writes to std::cerr from a program that references
// std::cout/std::cerr itself, because the program's copy-relocated stream objects are the initialised ones.)
// Only C types cross this boundary, and buffers are freed by the module that allocated them.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

struct LadleSpmProcessor;  // an opaque sentencepiece::SentencePieceProcessor

enum LadleSpmSpecial { LADLE_SPM_UNK = 0, LADLE_SPM_BOS = 1, LADLE_SPM_EOS = 2, LADLE_SPM_PAD = 3 };

// Functions returning int return 0 on success; on failure they write a NUL-terminated message into
// error[0 .. error_size) and return non-zero. Buffers the module allocates are released with free_buffer.
struct LadleSpmApi {
  int abi_version;  // LADLE_SPM_ABI_VERSION of the module
  int (*load)(const char* model_path, LadleSpmProcessor** processor, char* error, size_t error_size);
  void (*free_processor)(LadleSpmProcessor* processor);
  int (*encode)(const LadleSpmProcessor* processor, const char* text, size_t text_size, int32_t** ids,
                size_t* count, char* error, size_t error_size);
  int (*decode)(const LadleSpmProcessor* processor, const int32_t* ids, size_t count, char** text,
                size_t* text_size, char* error, size_t error_size);
  void (*free_buffer)(void* buffer);
  int32_t (*piece_count)(const LadleSpmProcessor* processor);
  int32_t (*piece_to_id)(const LadleSpmProcessor* processor, const char* piece, size_t piece_size);
  // Writes the piece into a module-allocated buffer; id must be in [0, piece_count).
  int (*id_to_piece)(const LadleSpmProcessor* processor, int32_t id, char** piece, size_t* piece_size);
  int32_t (*special_id)(const LadleSpmProcessor* processor, int which);  // a LadleSpmSpecial; -1 when absent
  int (*is_control)(const LadleSpmProcessor* processor, int32_t id);    // id in [0, piece_count)
  // Seeds sentencepiece's sampling, then runs its trainer with command-line style arguments
  // ("--input=... --model_prefix=...").
  int (*train)(const char* arguments, unsigned int seed, char* error, size_t error_size);
};

#define LADLE_SPM_ABI_VERSION 1
#define LADLE_SPM_ENTRY_POINT "ladle_sentencepiece_api"
typedef const LadleSpmApi* (*LadleSpmEntryPoint)(void);

}  // extern "C"
