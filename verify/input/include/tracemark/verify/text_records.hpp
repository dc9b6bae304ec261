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
//                                                              (a choice whose content is null is skipped);
//   {"choices": [{"text": "..."}, ...]}                     -> each choice's text (a completions object).
// Nothing when the record has neither field (so callers can read "tokens" instead). Throws
// Error(invalid_input) with the reader's position when a field has the wrong type.
std::optional<std::vector<std::string>> record_texts(const JsonlReader& reader, const JsonlRecord& record);

}  // namespace tracemark
