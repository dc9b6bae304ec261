// Texts inside JSON-lines records: {"text": "..."} and OpenAI chat-completion and completion objects.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tracemark/verify/jsonl_reader.hpp"

namespace tracemark {

// The texts a record carries, each one response:
//   {"text": "..."}                                         -> that text;
//   {"choices": [{"message": {"content": "..."}}, ...]}     -> each choice's content, in order
//                                                              (a choice whose content is null and that has
//                                                              no tool calls is skipped);
//   a chat choice with "tool_calls"                         -> tool_call_text(content, its calls);
//   {"choices": [{"text": "..."}, ...]}                     -> each choice's text (a completions object).
// Nothing when the record has neither field (so callers can read "tokens" instead). Throws
// Error(invalid_input) with the reader's position when a field has the wrong type.
// The text a model writes for an assistant message with tool calls, which serving parses into the
// OpenAI message (and the corpora's generator and the reference model's tool-call decoder write):
//   [content "\n"] then, one a line, <tool_call>{"name": NAME, "arguments": ARGUMENTS}</tool_call>
// with NAME as a JSON string and ARGUMENTS the call's "arguments" string as is (JSON text).
// tool_calls: the message's "tool_calls" array; throws Error(invalid_input) (prefixed with where)
// when a call lacks function.name or function.arguments as strings.
std::string tool_call_text(const std::string& content, const nlohmann::json& tool_calls, const std::string& where);

std::optional<std::vector<std::string>> record_texts(const JsonlReader& reader, const JsonlRecord& record);

}  // namespace tracemark
