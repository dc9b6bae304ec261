// Prompts as the commands that take them read them: one reader for `generate`, `probe` and
// `scan --prompts`, and one parser of the prompt fields of a record (prompt files, and the prompt a
// response record carries: generate's and probe's output, serve's audit log).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tracemark/embed/key.hpp"
#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark {

struct ChatMessage {
  std::string role;
  std::string content;
};

struct Prompt {
  nlohmann::json id;       // the record's "id" as written (string or number), else its line number
  std::uint64_t line = 0;  // where it was read
  // What the record gives; at least one is set. A record may give ids and text together (as
  // generate's output does); each command says which it uses.
  std::optional<std::vector<std::uint32_t>> tokens;   // ids: "prompt_tokens"
  std::optional<std::string> text;                    // "prompt" as a string
  std::optional<std::vector<ChatMessage>> messages;   // "prompt" or "messages" as chat messages
  std::optional<TokenizerBinding> tokenizer;          // the record's "tokenizer": whose ids `tokens` are
  nlohmann::json tools;  // "tools" as written (OpenAI function schemas: answer with a tool call), else null

  // The prompt as written: the text, or the messages as [{"role", "content"}], or null.
  nlohmann::json text_or_messages() const;
};

// The prompt fields of a record: "prompt_tokens": [ids], "prompt": text or [{"role", "content"}],
// "messages": [{"role", "content"}] (a chat; content a string), and "tokenizer" (record_tokenizer).
// Nothing when the record has none of them. Throws Error(invalid_input) naming the file and line
// when a field has the wrong type (ids outside [0, 2^32), a prompt that is neither text nor chat).
std::optional<Prompt> prompt_of_record(const JsonlReader& reader, const JsonlRecord& record);

// The record's "prompt_tokens" as ids. Throws Error(invalid_input) naming the file and line when
// the field is missing or holds anything but integers in [0, 2^32).
std::vector<std::uint32_t> record_prompt_tokens(const JsonlReader& reader, const JsonlRecord& record);

// Reads every prompt of a prompts file. A record holds its prompt in the fields above; a record
// without them may give it as "tokens" (ids) or "text" (a file of responses, or tokenize's output,
// used as prompts). Throws Error(invalid_input) naming the file, line and byte offset for a record
// with no prompt, a bad field, an id that appears twice (ids match prompts to responses and let a
// probe resume) or a record longer than max_record_bytes, and Error(io) when the file cannot be read.
std::vector<Prompt> read_prompt_file(const std::filesystem::path& path, std::size_t max_record_bytes = kDefaultMaxRecordBytes);

// The text the reference model continues for a chat (serve and generate): each message as
// "ROLE: CONTENT\n\n", then "assistant:" (docs/DESIGN.md, "Serving").
std::string render_chat_prompt(const std::vector<ChatMessage>& messages);

// The contents of chat messages joined by blank lines: the text a response may copy from a chat
// prompt (scan's prompt windows).
std::string joined_chat_contents(const std::vector<ChatMessage>& messages);

}  // namespace tracemark
