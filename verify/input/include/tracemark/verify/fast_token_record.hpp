// A fast path for the most common input line, {"id": ..., "tokens": [ids], ...}: parsed with
// simdjson (its validating DOM parser), several times faster than nlohmann's DOM. Anything unusual (a malformed
// line, a missing or odd "tokens" field, a duplicate key, trailing bytes) returns nullopt, and the
// caller parses the line with the general JsonlReader path, which gives the precise error message.
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
  bool has_prompt = false;  // the record carries "prompt_tokens" or "prompt" (the caller reads it)
};

// Thread-safe (one simdjson parser per thread).
std::optional<FastTokenRecord> parse_token_record_fast(std::string_view line);

}  // namespace tracemark
