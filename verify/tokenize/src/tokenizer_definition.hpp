// Everything that decides a tokenizer's ids, independent of the file format it came from. Each
// loader (tiktoken rank files, GPT-2 files, Hugging Face tokenizer.json) fills one of these; the
// Tokenizer class only ever sees this.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tracemark {

enum class Normalization { none, nfc, nfkc, nfd, nfkd };

// Which regex engine's rules the pattern was written for. They differ in what \s, \d and "." match
// (docs/DESIGN.md); the pre-tokenizer translates each into explicit classes for PCRE2.
enum class PatternDialect {
  rust_regex,  // tiktoken (fancy-regex over Rust's regex crate): \s = White_Space, \d = Nd
  ecmascript,  // JavaScript with the u flag (gpt-3-encoder): \s = WhiteSpace + LineTerminator, \d = [0-9]
  oniguruma,   // Hugging Face tokenizers (Oniguruma, Unicode): \s = White_Space, \d = Nd
};

// What happens to text that no match of the pattern covers.
enum class UnmatchedText {
  drop,  // tiktoken and gpt-3-encoder iterate over matches only
  keep,  // Hugging Face's Split with behavior "Isolated" keeps the gaps as pieces too
};

// How pairs of adjacent parts are ranked during byte-pair merging.
enum class MergeRule {
  token_ranks,  // tiktoken: a pair's rank is the rank (id) of its concatenated bytes
  merge_list,   // GPT-2 and Hugging Face BPE: a pair's rank is its line in the merge list
};

struct SpecialToken {
  std::string text;  // UTF-8, as written in the text
  std::uint32_t id = 0;
  // Hugging Face "added tokens" that are not special are split out of any text, as HF does;
  // special ones (and all tiktoken special tokens) only when EncodeOptions::allow_special is set.
  bool matched_always = false;
};

struct TokenizerDefinition {
  std::string name;
  Normalization normalization = Normalization::none;
  std::string pattern;  // the pre-tokenizer regex exactly as the source writes it
  PatternDialect dialect = PatternDialect::rust_regex;
  UnmatchedText unmatched = UnmatchedText::drop;
  bool add_prefix_space = false;  // HF ByteLevel: prepend " " unless the text starts with one
  MergeRule merge_rule = MergeRule::token_ranks;
  // Hugging Face "ignore_merges": a piece that is itself a token is that token, whatever the merges
  // would give. (tiktoken's rule always behaves so; for merge lists it is a choice of the model.)
  bool whole_piece_first = false;
  // Ordinary tokens as (bytes, id); ids unique, bytes unique and non-empty; every single byte present.
  std::vector<std::pair<std::string, std::uint32_t>> tokens;
  // merge_list only: (left id, right id) in priority order; the result is the token of their bytes.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> merges;
  std::vector<SpecialToken> special_tokens;
};

// SHA-256 (lowercase hex) of the definition's canonical byte layout (docs/DESIGN.md, "Tokenizers").
// The name is not part of it: the same tokenizer read from another file or format has the same digest.
std::string definition_sha256(const TokenizerDefinition& definition);

}  // namespace tracemark
