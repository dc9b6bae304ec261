// The subset of OpenAI's HTTP API that `tracemark serve` speaks: request validation and the JSON
// shapes of responses, stream chunks and errors. No I/O here, so every rule is unit-tested.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tracemark/verify/prompt_records.hpp"

namespace tracemark::serving {

// An HTTP error with an OpenAI-style body: {"error": {"message", "type", "param", "code"}}.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = {},
           std::string code = {});
  int status() const noexcept { return status_; }
  // OpenAI's error code ("invalid_api_key", ...) when there is one, else the error type.
  const std::string& reason() const noexcept { return code_.empty() ? type_ : code_; }
  // The response body.
  std::string body() const;

 private:
  int status_;
  std::string type_;
  std::string param_;
  std::string code_;
};

enum class Endpoint { chat_completions, completions };

// One chat message, and the text the model continues for a chat: the same as generate's
// (tracemark/verify/prompt_records.hpp), so a prompt gets the same ids wherever it is answered.
using tracemark::ChatMessage;
using tracemark::render_chat_prompt;

// Limits a request is validated against (serve's options).
struct RequestLimits {
  std::string model_name;             // the only model served
  std::size_t max_tokens_limit = 4096;  // largest max_tokens accepted
  std::size_t default_max_tokens = 256; // when the request gives none (the model has no end token)
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::chat_completions;
  std::vector<ChatMessage> messages;         // chat: the conversation
  std::string prompt_text;                   // completions with a text prompt
  std::vector<std::uint32_t> prompt_tokens;  // completions with a prompt of token ids
  bool prompt_is_tokens = false;
  std::size_t max_tokens = 0;
  double temperature = 1.0;  // [0, 2], OpenAI's range; 0 is greedy
  double top_p = 1.0;        // (0, 1]
  std::optional<std::int64_t> seed;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  nlohmann::ordered_json prompt_for_log;  // the prompt as the audit log records it (text or messages)
};

// Parses and validates a request body. Throws ApiError: 400 for malformed JSON (the message gives
// the line, column and byte offset of the failure), missing or ill-typed fields and values out of
// range (naming the field in "param"); 404 for another model (code "model_not_found"). Fields this
// server does not know are ignored, as OpenAI-compatible servers do; fields it cannot honour (n > 1,
// stop sequences, logprobs, echo, best_of > 1) are refused rather than silently dropped.
CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint, const RequestLimits& limits);

// Cuts a growing byte string into pieces that are whole UTF-8 sequences, for streaming: take()
// returns the bytes that can be sent now (an incomplete sequence at the end is held back until
// the next bytes complete it), finish() returns everything left. Ill-formed bytes are repaired by
// the project's one rule (replace_invalid_utf8, tracemark/verify/utf8.hpp), and the concatenated
// pieces equal replace_invalid_utf8 of the concatenated input, wherever the input was cut.
class Utf8StreamSplitter {
 public:
  std::string take(std::string_view more_bytes);
  std::string finish();

 private:
  std::string pending_;
};

struct Usage {
  std::size_t prompt_tokens = 0;
  std::size_t completion_tokens = 0;
};

// Non-streaming response objects ("chat.completion" and "text_completion").
nlohmann::ordered_json completion_response(Endpoint endpoint, const std::string& id, std::int64_t created,
                                           const std::string& model, const std::string& text,
                                           const std::string& finish_reason, const Usage& usage);
// One streaming chunk. role: set on the first chat chunk only. finish_reason: empty while streaming.
nlohmann::ordered_json completion_chunk(Endpoint endpoint, const std::string& id, std::int64_t created,
                                        const std::string& model, const std::string& text, bool with_role,
                                        const std::string& finish_reason);
// The last chunk when stream_options.include_usage is set: empty choices, the usage.
nlohmann::ordered_json usage_chunk(Endpoint endpoint, const std::string& id, std::int64_t created,
                                   const std::string& model, const Usage& usage);
nlohmann::ordered_json usage_json(const Usage& usage);

// "data: JSON\n\n".
std::string server_sent_event(const nlohmann::ordered_json& value);

}  // namespace tracemark::serving
