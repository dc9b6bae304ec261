// A fast path for the most common input line, {"id": ..., "tokens": [ids], ...}: parsed with
// simdjson (its validating DOM parser), several times faster than nlohmann's DOM. Anything unusual (a
// malformed line, a missing or odd "tokens" field, a duplicate key, trailing bytes, an odd
// "tokenizer") returns nullopt, and the caller parses the line with the general JsonlReader path,
// which gives the precise error message. Whatever it returns, the general path reads the same ids
// from the line (fast_token_record_test checks both paths on generated records).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tracemark {

struct FastTokenRecord {
  std::vector<std::uint32_t> tokens;
  std::optional<std::string> id;  // a string id as is, a numeric id as its JSON text
  bool id_is_number = false;
  bool has_prompt = false;  // the record carries "prompt_tokens", "prompt" or "messages" (the caller reads it)
  // "tokenizer": {"vocab_sha256"} when the record names the tokenizer of its ids (else nothing).
  std::optional<std::string> tokenizer_sha256;
};

// Thread-safe (one simdjson parser per thread).
std::optional<FastTokenRecord> parse_token_record_fast(std::string_view line);

}  // namespace tracemark
