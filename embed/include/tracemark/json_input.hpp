// Reading JSON that someone else wrote (requests, records, key files, tokenizer files, bundles,
// audit and investigation logs): one parse with one nesting limit for every document tracemark
// reads, and error messages that quote at most a short, escaped excerpt of the input.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tracemark {

// The deepest nesting of arrays and objects a JSON document read by tracemark may have. Deeper
// documents are refused as invalid input before they are parsed, so code that walks a parsed
// value recursively (dumps, canonical JSON, diffs, comparisons) never recurses deeper than this.
// Our own documents nest at most about 8 deep; 128 is also serde_json's default.
inline constexpr std::size_t kMaxJsonDepth = 128;

// Why a text is not a JSON document tracemark accepts.
struct JsonProblem {
  std::size_t offset = 0;  // byte offset in the text (0-based) where reading stopped
  std::string reason;      // short; quotes at most a short, escaped excerpt of the text
};

// Parses exactly one JSON document (RFC 8259: UTF-8, nothing but whitespace after it) that nests
// at most kMaxJsonDepth deep and whose numbers are all finite doubles. Returns nullopt and fills
// `problem` otherwise; never throws for bad input. Thread-safe.
std::optional<nlohmann::json> try_parse_json(std::string_view text, JsonProblem& problem);
std::optional<nlohmann::ordered_json> try_parse_ordered_json(std::string_view text, JsonProblem& problem);

// The same, throwing Error(invalid_input) "SOURCE: not valid JSON at byte offset N (REASON)".
nlohmann::json parse_json(std::string_view text, std::string_view source);
nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view source);

// The byte offset of the first bracket that opens a container deeper than max_depth, or nullopt.
// Counts brackets outside strings only; one linear pass, no allocation. Used before parsing, also
// by parsers other than nlohmann's (simdjson).
std::optional<std::size_t> json_too_deep_at(std::string_view text, std::size_t max_depth = kMaxJsonDepth);

// A short description of a value for error messages: a number, boolean or null as written, a string
// quoted and cut to about max_chars, an array or object by its kind and size only (never dumped).
std::string json_excerpt(const nlohmann::json& value, std::size_t max_chars = 40);
std::string json_excerpt(const nlohmann::ordered_json& value, std::size_t max_chars = 40);

// Bytes as printable ASCII for an error message: \" \\ \n \r \t and \xNN for every other byte
// outside 0x20..0x7e, cut after max_chars input bytes with "...".
std::string escaped_excerpt(std::string_view bytes, std::size_t max_chars = 40);

}  // namespace tracemark
