// Records of a suspect's outputs (and of prompt files and reference logs) as token ids of the
// key's vocabulary, whatever shape they came in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/key_tokenizer.hpp"

namespace tracemark {

// Where a record's ids come from when it carries both ids and text.
enum class TokenSource {
  automatic,  // "tokens" when present (the exact ids a model emitted), else the text
  tokens,     // "tokens" only; a record without them is an error
  text,       // the text only, tokenized with the key's tokenizer (for example a student with
              // another tokenizer, whose "tokens" are ids of its own vocabulary)
};

// Parses "auto", "tokens" or "text"; throws Error(invalid_argument) otherwise.
TokenSource parse_token_source(const std::string& name);

struct SuspectRecord {
  std::string id;  // the record's "id" as text (a number as written), else its line number
  // One entry per response: usually one; a chat completion with several choices gives several.
  std::vector<std::vector<std::uint32_t>> responses;
  // The prompt that produced it, when the record carries one ("prompt_tokens": [ids], or "prompt":
  // a text or a list of chat messages, whose contents are joined by blank lines).
  std::optional<std::vector<std::uint32_t>> prompt;
};

// Turns lines into SuspectRecords. Accepted record shapes (ids of the key's vocabulary; text is
// tokenized with the keys' tokenizer):
//   {"tokens": [ids]}                                   one response
//   {"text": "..."}                                     one response
//   {"choices": [{"message": {"content": "..."}}]}      an OpenAI chat completion: one per choice
//   {"choices": [{"text": "..."}]}                      an OpenAI completion: one per choice
// plus optional "id", "prompt_tokens" and "prompt". Thread-safe (const; the tokenizer is shared).
class SuspectRecordDecoder {
 public:
  SuspectRecordDecoder(const KeyTokenizer& tokenizer, TokenSource source) : tokenizer_(tokenizer), source_(source) {}

  // Throws Error(invalid_input) naming the file, line and byte offset for a malformed record,
  // invalid UTF-8 in a text, or a record of no accepted shape.
  SuspectRecord decode(const JsonlReader& reader, const JsonlLine& line) const;

 private:
  std::vector<std::uint32_t> encode(const JsonlReader& reader, const JsonlRecord& record, const std::string& text) const;
  std::optional<std::vector<std::uint32_t>> prompt_of(const JsonlReader& reader, const JsonlRecord& record) const;

  const KeyTokenizer& tokenizer_;
  TokenSource source_;
};

}  // namespace tracemark
