// npm tiktoken's throughput on the same texts as bench/tokenizer_throughput: encode_ordinary of
// each {"text"} line, one thread, best of REPEATS; prints MB/s (10^6 bytes of UTF-8 input a second).
// claude is tiktoken's Tiktoken class with claude.json after NFKC, as @anthropic-ai/tokenizer does.
// Usage: node tiktoken_throughput.cjs CACHE TOKENIZER TEXTS.jsonl [REPEATS]
"use strict";
const fs = require("fs");
const path = require("path");

const [cache, name, textsPath, repeatsArg] = process.argv.slice(2);
const repeats = Number(repeatsArg || 5);
const tiktokenDir = path.join(cache, "npm", "tiktoken@1.0.22", "package");
const { Tiktoken } = require(path.join(tiktokenDir, "tiktoken.cjs"));
const specPath = name === "claude"
  ? path.join(cache, "npm", "@anthropic-ai", "tokenizer@0.0.4", "package", "claude.json")
  : path.join(tiktokenDir, "encoders", `${name}.json`);
const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));
const encoding = new Tiktoken(spec.bpe_ranks, spec.special_tokens, spec.pat_str);
const texts = fs.readFileSync(textsPath, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line).text);
const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text, "utf8"), 0);
let best = Infinity;
let ids = 0;
for (let r = 0; r < repeats; ++r) {
  const start = process.hrtime.bigint();
  ids = 0;
  for (const text of texts) ids += encoding.encode_ordinary(name === "claude" ? text.normalize("NFKC") : text).length;
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
}
console.log(`npm tiktoken 1.0.22 ${name} threads=1: ${bytes} bytes, ${ids} ids, best of ${repeats}: ${best.toFixed(3)} s, ${(bytes / best / 1e6).toFixed(2)} MB/s`);
encoding.free();
