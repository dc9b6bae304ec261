// Records of a suspect's outputs (and of prompt files and reference logs) as token ids of the
// key's vocabulary, whatever shape they came in. `scan` and `detect` both decode through here, so
// the two commands always score the same ids for the same record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/key_tokenizer.hpp"
#include "tracemark/verify/prompt_records.hpp"

namespace tracemark {

// Where a record's ids come from when it carries both ids and text.
enum class TokenSource {
  automatic,  // "tokens" when they are the key tokenizer's ids, else the text (see the rule below)
  tokens,     // "tokens" only; a record without them, or naming another tokenizer, is an error
  text,       // the text only, tokenized with the key's tokenizer (for example a student with
              // another tokenizer, whose "tokens" are ids of its own vocabulary)
};

// Parses "auto", "tokens" or "text"; throws Error(invalid_argument) otherwise.
TokenSource parse_token_source(const std::string& name);

struct SuspectRecord {
  std::string id;           // the record's "id" as text (a number as written), else its line number
  bool id_is_number = false;  // the id was a JSON number (or the line number)
  // One entry per response: usually one; a chat completion with several choices gives several.
  std::vector<std::vector<std::uint32_t>> responses;
  // The prompt that produced it, when the record carries one (prompt_of_record: "prompt_tokens", or
  // "prompt"/"messages" as text or chat messages, whose contents are joined by blank lines).
  std::optional<std::vector<std::uint32_t>> prompt;
  // Set when the record's ids name another tokenizer than the key's and its text was read instead
  // (automatic mode): the tokenizer the ids were of.
  std::optional<TokenizerBinding> foreign_ids;
  // Per-step entropy (nats) of the protected model's distribution as serving recorded it ("entropy":
  // [numbers], one per token of a single response; `generate --record-entropy`). Read only with the
  // record's ids, to which the values belong: absent when its text was read instead.
  std::optional<std::vector<float>> entropy;
};

// The record's "entropy" (null or absent: nullopt) checked against its responses: an array of numbers
// >= 0, one per token of a single response; Error(invalid_input) naming the record otherwise.
std::optional<std::vector<float>> recorded_entropy(const JsonlReader& reader, const JsonlRecord& record,
                                                   const std::vector<std::vector<std::uint32_t>>& responses);

// Turns lines into SuspectRecords. Accepted record shapes (ids of the key's vocabulary; text is
// tokenized with the keys' tokenizer):
//   {"tokens": [ids]}                                   one response
//   {"text": "..."}                                     one response
//   {"choices": [{"message": {"content": "..."}}]}      an OpenAI chat completion: one per choice
//                                                       (with "tool_calls", rendered as tool_call_text())
//   {"choices": [{"text": "..."}]}                      an OpenAI completion: one per choice
// plus optional "id", "prompt_tokens", "prompt", "messages" and "tokenizer".
//
// The rule for ids (docs/DESIGN.md, "Which ids are scored"): a record's ids ("tokens",
// "prompt_tokens") are taken as the key tokenizer's unless the record names another tokenizer
// ("tokenizer": {"name", "vocab_sha256"} with another digest than the keys'), or the source is
// `text`. Ids of another tokenizer are never scored as ours: in automatic mode the record's text is
// read instead (SuspectRecord::foreign_ids says so), in `tokens` mode the record is an error, and a
// record with such ids and no text is an error in every mode. A record holding both "tokens" and a
// text, naming no tokenizer or the keys', is scored on its "tokens" (the exact ids a model emitted)
// in automatic mode. Keys that name no tokenizer cannot tell, and take every record's ids.
// Thread-safe (const; the tokenizer is shared).
class SuspectRecordDecoder {
 public:
  SuspectRecordDecoder(const KeyTokenizer& tokenizer, TokenSource source) : tokenizer_(tokenizer), source_(source) {}

  // Throws Error(invalid_input) naming the file, line and byte offset for a malformed record,
  // invalid UTF-8 or a NUL byte in the line, or a record of no accepted shape.
  SuspectRecord decode(const JsonlReader& reader, const JsonlLine& line) const;

  // The ids of a prompt (from a prompts file or a record) by the same rule: its ids when they are
  // the keys' and the source is not `text`, else its text or chat contents; nothing when it has
  // only ids that cannot be used. `where` names the record in messages.
  std::optional<std::vector<std::uint32_t>> prompt_ids(const std::string& where, const Prompt& prompt) const;

 private:
  // Whether the keys can tell, and the record's tokenizer is another one.
  bool is_foreign(const std::optional<TokenizerBinding>& named) const;
  std::vector<std::uint32_t> encode(const std::string& where, const std::string& text) const;

  const KeyTokenizer& tokenizer_;
  TokenSource source_;
};

}  // namespace tracemark
