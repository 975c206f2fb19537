// Token ids from Hugging Face's own JavaScript tokenizers (@huggingface/tokenizers), the reference ladle's
// HfTokenizer is tested against (tests/text/hf_tokenizer_reference_test.cpp), and from tiktoken's GPT-2 encoding.
//
//   node hf_tokenizer_reference.mjs NODE_MODULES TOKENIZER_FOLDER TEXTS_JSON OUT_JSON [--tiktoken-gpt2]
//
// TEXTS_JSON holds an array of strings; OUT_JSON receives an array with each text's ids, encoded without special
// tokens (add_special_tokens: false). A folder with GPT-2's vocab.json + merges.txt is given the tokenizer.json
// transformers' GPT2TokenizerFast builds from them (BPE, ByteLevel pre-tokenizer and decoder, <|endoftext|>
// special). --tiktoken-gpt2 encodes with tiktoken's "gpt2" encoding instead (OpenAI's own GPT-2 ranks).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, folder, textsFile, outFile, flag] = process.argv.slice(2);
if (!outFile) {
  console.error("usage: node hf_tokenizer_reference.mjs NODE_MODULES TOKENIZER_FOLDER TEXTS_JSON OUT_JSON [--tiktoken-gpt2]");
  process.exit(2);
}
const texts = JSON.parse(readFileSync(textsFile, "utf8"));
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

function gpt2TokenizerJson(dir) {
  const vocab = readJson(join(dir, "vocab.json"));
  const merges = readFileSync(join(dir, "merges.txt"), "utf8").split("\n").filter((line) => line && !line.startsWith("#version"));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [{ id: vocab["<|endoftext|>"], content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null, pre_tokenizer: byteLevel, post_processor: byteLevel, decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

let encode;
if (flag === "--tiktoken-gpt2") {
  const require = createRequire(resolve(nodeModules, "tiktoken", "package.json"));
  const { get_encoding } = require("tiktoken");
  const encoding = get_encoding("gpt2");
  encode = (text) => Array.from(encoding.encode(text, "all"));
} else {
  const { Tokenizer } = await import(pathToFileURL(resolve(nodeModules, "@huggingface", "tokenizers", "dist", "tokenizers.mjs")));
  const hasJson = existsSync(join(folder, "tokenizer.json"));
  const tokenizerJson = hasJson ? readJson(join(folder, "tokenizer.json")) : gpt2TokenizerJson(folder);
  const configPath = join(folder, "tokenizer_config.json");
  const tokenizer = new Tokenizer(tokenizerJson, existsSync(configPath) ? readJson(configPath) : {});
  encode = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids;
}
writeFileSync(outFile, JSON.stringify(texts.map((text) => encode(text))));
