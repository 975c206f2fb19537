// Tokenizer throughput of the JavaScript references on the same text file as tokenizer_benchmark: Hugging Face's
// @huggingface/tokenizers with a tokenizer folder, or tiktoken (OpenAI's Rust tokenizer compiled to WASM) with
// one of its encodings. Encodes line by line, one thread, once; prints one JSON line like tokenizer_benchmark
// (CPU time from process.cpuUsage, which also counts V8's helper threads).
//
//   node bench_js.mjs NODE_MODULES hf TOKENIZER_FOLDER TEXT_FILE
//   node bench_js.mjs NODE_MODULES tiktoken ENCODING TEXT_FILE      (ENCODING: gpt2, cl100k_base, o200k_base)
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [nodeModules, kind, name, textFile] = process.argv.slice(2);
const loadStart = performance.now();
let encode;
if (kind === "tiktoken") {
  const require = createRequire(resolve(nodeModules, "tiktoken", "package.json"));
  const encoding = require("tiktoken").get_encoding(name);
  encode = (text) => encoding.encode(text);
} else {
  const { Tokenizer } = await import(pathToFileURL(resolve(nodeModules, "@huggingface", "tokenizers", "dist", "tokenizers.mjs")));
  const config = join(name, "tokenizer_config.json");
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(name, "tokenizer.json"), "utf8")),
                                  existsSync(config) ? JSON.parse(readFileSync(config, "utf8")) : {});
  encode = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids;
}
const loadSeconds = (performance.now() - loadStart) / 1000;
const lines = readFileSync(textFile, "utf8").split("\n");
let tokens = 0;
const start = performance.now();
const cpuStart = process.cpuUsage();
for (const line of lines) tokens += encode(line).length;
const cpu = process.cpuUsage(cpuStart);
const seconds = (performance.now() - start) / 1000;
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const bytes = lines.reduce((sum, line) => sum + Buffer.byteLength(line, "utf8"), 0);
console.log(JSON.stringify({ implementation: kind === "tiktoken" ? `tiktoken ${name}` : "@huggingface/tokenizers",
  tokenizer: name, bytes, tokens, load_seconds: loadSeconds, seconds, cpu_seconds: cpuSeconds,
  tokens_per_second: tokens / seconds, megabytes_per_second: bytes / seconds / 1e6,
  tokens_per_cpu_second: tokens / cpuSeconds, megabytes_per_cpu_second: bytes / cpuSeconds / 1e6 }));
