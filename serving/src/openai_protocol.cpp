#include "tracemark/serving/openai_protocol.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "tracemark/json_input.hpp"

#include "tracemark/verify/utf8.hpp"

namespace tracemark::serving {
namespace {

using Json = nlohmann::json;

[[noreturn]] void bad_request(const std::string& message, const std::string& param) {
  throw ApiError(400, message, "invalid_request_error", param);
}

// The member or nullptr when absent or null (OpenAI clients send null for "not set").
const Json* optional_member(const Json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    case Json::value_t::number_float: return "a number with a fraction";
    default: return "a number";
  }
}

double number_in_range(const Json& object, const char* name, double fallback, double low, double high, bool low_open) {
  const Json* value = optional_member(object, name);
  if (!value) return fallback;
  if (!value->is_number()) bad_request(std::string("'") + name + "' must be a number, not " + type_name(*value), name);
  const double x = value->get<double>();
  if (!std::isfinite(x) || x > high || (low_open ? x <= low : x < low)) {
    char range[64];
    std::snprintf(range, sizeof range, "%s%g, %g]", low_open ? "(" : "[", low, high);
    bad_request(std::string("'") + name + "' is " + json_excerpt(*value) + "; it must be in " + range, name);
  }
  return x;
}

bool boolean(const Json& object, const char* name) {
  const Json* value = optional_member(object, name);
  if (!value) return false;
  if (!value->is_boolean()) bad_request(std::string("'") + name + "' must be true or false, not " + type_name(*value), name);
  return value->get<bool>();
}

std::string message_content(const Json& content, std::size_t index) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return {};
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    // Content parts: [{"type": "text", "text": "..."}]; other part types (images, audio) are refused.
    std::string text;
    for (std::size_t j = 0; j < content.size(); ++j) {
      const Json& part = content[j];
      if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") ||
          !part["text"].is_string()) {
        bad_request(param + "[" + std::to_string(j) + "] must be a text part {\"type\": \"text\", \"text\": \"...\"}; "
                                                       "this model reads text only",
                    param);
      }
      text += part["text"].get<std::string>();
    }
    return text;
  }
  bad_request(param + " must be a string or an array of text parts, not " + type_name(content), param);
}

void parse_messages(const Json& body, CompletionRequest& request) {
  const Json* messages = optional_member(body, "messages");
  if (!messages) bad_request("missing required parameter 'messages' (an array of {\"role\", \"content\"})", "messages");
  if (!messages->is_array() || messages->empty()) {
    bad_request("'messages' must be a non-empty array of {\"role\", \"content\"} objects", "messages");
  }
  nlohmann::ordered_json logged = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < messages->size(); ++i) {
    const Json& message = (*messages)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) bad_request(param + " must be an object with \"role\" and \"content\"", param);
    const auto role = message.find("role");
    if (role == message.end() || !role->is_string()) {
      bad_request("missing required parameter '" + param + ".role' (system, developer, user, assistant or tool)",
                  param + ".role");
    }
    const std::string role_text = role->get<std::string>();
    if (role_text != "system" && role_text != "developer" && role_text != "user" && role_text != "assistant" &&
        role_text != "tool") {
      bad_request(param + ".role is '" + escaped_excerpt(role_text) + "'; use system, developer, user, assistant or tool",
                  param + ".role");
    }
    const auto content = message.find("content");
    if (content == message.end()) bad_request("missing required parameter '" + param + ".content'", param + ".content");
    ChatMessage parsed{role_text, message_content(*content, i)};
    logged.push_back({{"role", parsed.role}, {"content", parsed.content}});
    request.messages.push_back(std::move(parsed));
  }
  request.prompt_for_log = std::move(logged);
}

void parse_prompt(const Json& body, CompletionRequest& request) {
  const Json* prompt = optional_member(body, "prompt");
  if (!prompt) bad_request("missing required parameter 'prompt' (a string, or an array of token ids)", "prompt");
  if (prompt->is_string()) {
    request.prompt_text = prompt->get<std::string>();
    request.prompt_for_log = request.prompt_text;
    return;
  }
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    request.prompt_text = (*prompt)[0].get<std::string>();
    request.prompt_for_log = request.prompt_text;
    return;
  }
  if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number()) {
    for (std::size_t i = 0; i < prompt->size(); ++i) {
      const Json& id = (*prompt)[i];
      if (!id.is_number_integer() || (id.is_number_unsigned() ? id.get<std::uint64_t>() > 0xFFFFFFFFull : id.get<std::int64_t>() < 0)) {
        bad_request("'prompt'[" + std::to_string(i) + "] is " + json_excerpt(id) + ", not a token id", "prompt");
      }
      request.prompt_tokens.push_back(id.get<std::uint32_t>());
    }
    request.prompt_is_tokens = true;
    request.prompt_for_log = request.prompt_tokens;
    return;
  }
  if (prompt->is_array() && prompt->size() > 1) {
    bad_request("'prompt' holds " + std::to_string(prompt->size()) + " prompts; this server answers one prompt per request",
                "prompt");
  }
  bad_request("'prompt' must be a string or an array of token ids, not " + type_name(*prompt), "prompt");
}

}  // namespace

ApiError::ApiError(int status, std::string message, std::string type, std::string param, std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

std::string ApiError::body() const {
  nlohmann::ordered_json error = {{"message", what()}, {"type", type_}};
  error["param"] = param_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param_);
  error["code"] = code_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(code_);
  return nlohmann::ordered_json{{"error", error}}.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

CompletionRequest parse_completion_request(std::string_view body, Endpoint endpoint, const RequestLimits& limits) {
  JsonProblem problem;
  std::optional<Json> document = try_parse_json(body, problem);
  if (!document) {
    const std::size_t offset = problem.offset;
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset; ++i) {
      if (body[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw ApiError(400, "the request body is not valid JSON: at line " + std::to_string(line) + ", column " +
                            std::to_string(column) + " (byte offset " + std::to_string(offset) + "): " + problem.reason +
                            "; send one JSON object with Content-Type: application/json");
  }
  const Json parsed = std::move(*document);
  if (!parsed.is_object()) {
    bad_request("the request body must be a JSON object, not " + type_name(parsed), {});
  }
  CompletionRequest request;
  request.endpoint = endpoint;
  const Json* model = optional_member(parsed, "model");
  if (!model) bad_request("missing required parameter 'model' (this server has '" + limits.model_name + "')", "model");
  if (!model->is_string()) bad_request("'model' must be a string, not " + type_name(*model), "model");
  if (model->get<std::string>() != limits.model_name) {
    throw ApiError(404, "The model '" + escaped_excerpt(model->get<std::string>()) + "' does not exist; this server has '" + limits.model_name + "'",
                   "invalid_request_error", "model", "model_not_found");
  }
  if (endpoint == Endpoint::chat_completions) {
    parse_messages(parsed, request);
  } else {
    parse_prompt(parsed, request);
  }

  const char* max_name = optional_member(parsed, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  if (const Json* max = optional_member(parsed, max_name)) {
    // nlohmann parses every non-negative integer as unsigned; negative integers and fractions are out.
    const bool in_range = max->is_number_unsigned() && max->get<std::uint64_t>() >= 1 &&
                          max->get<std::uint64_t>() <= limits.max_tokens_limit;
    if (!in_range) {
      bad_request(std::string("'") + max_name + "' is " + json_excerpt(*max) + "; it must be an integer from 1 to " +
                      std::to_string(limits.max_tokens_limit),
                  max_name);
    }
    request.max_tokens = max->get<std::size_t>();
  } else {
    request.max_tokens = std::min(limits.default_max_tokens, limits.max_tokens_limit);
  }
  request.temperature = number_in_range(parsed, "temperature", 1.0, 0.0, 2.0, false);
  request.top_p = number_in_range(parsed, "top_p", 1.0, 0.0, 1.0, true);
  if (const Json* seed = optional_member(parsed, "seed")) {
    if (!seed->is_number_integer() || (seed->is_number_unsigned() && seed->get<std::uint64_t>() > 0x7FFFFFFFFFFFFFFFull)) {
      bad_request("'seed' is " + json_excerpt(*seed) + "; it must be an integer (64-bit signed)", "seed");
    }
    request.seed = seed->get<std::int64_t>();
  }
  if (const Json* n = optional_member(parsed, "n")) {
    if (!n->is_number_integer() || n->get<std::int64_t>() != 1) {
      bad_request("'n' is " + json_excerpt(*n) + "; this server returns one choice per request (n = 1)", "n");
    }
  }
  if (const Json* best_of = optional_member(parsed, "best_of")) {
    if (!best_of->is_number_integer() || best_of->get<std::int64_t>() != 1) {
      bad_request("'best_of' is " + json_excerpt(*best_of) + "; this server supports only best_of = 1", "best_of");
    }
  }
  if (optional_member(parsed, "stop")) {
    bad_request("'stop' sequences are not supported by the reference model; leave 'stop' out or null", "stop");
  }
  if (boolean(parsed, "echo")) bad_request("'echo' is not supported; leave it out or false", "echo");
  const Json* logprobs = optional_member(parsed, "logprobs");
  if (logprobs && !(logprobs->is_boolean() && !logprobs->get<bool>())) {
    bad_request("'logprobs' are not supported; leave them out, null or false", "logprobs");
  }
  request.stream = boolean(parsed, "stream");
  if (const Json* options = optional_member(parsed, "stream_options")) {
    if (!options->is_object()) bad_request("'stream_options' must be an object", "stream_options");
    if (!request.stream) bad_request("'stream_options' is only allowed with 'stream': true", "stream_options");
    request.include_usage = boolean(*options, "include_usage");
  }
  return request;
}

std::string Utf8StreamSplitter::take(std::string_view more_bytes) {
  pending_.append(more_bytes);
  const std::size_t ready = pending_.size() - incomplete_utf8_tail(pending_);
  std::string out = replace_invalid_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string Utf8StreamSplitter::finish() {
  std::string out = replace_invalid_utf8(pending_);
  pending_.clear();
  return out;
}

nlohmann::ordered_json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

nlohmann::ordered_json completion_response(Endpoint endpoint, const std::string& id, std::int64_t created,
                                           const std::string& model, const std::string& text,
                                           const std::string& finish_reason, const Usage& usage) {
  nlohmann::ordered_json choice;
  if (endpoint == Endpoint::chat_completions) {
    choice = {{"index", 0}, {"message", {{"role", "assistant"}, {"content", text}}}, {"logprobs", nullptr},
              {"finish_reason", finish_reason}};
  } else {
    choice = {{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
  }
  return {{"id", id},
          {"object", endpoint == Endpoint::chat_completions ? "chat.completion" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", nlohmann::ordered_json::array({choice})},
          {"usage", usage_json(usage)}};
}

nlohmann::ordered_json completion_chunk(Endpoint endpoint, const std::string& id, std::int64_t created,
                                        const std::string& model, const std::string& text, bool with_role,
                                        const std::string& finish_reason) {
  nlohmann::ordered_json choice;
  const nlohmann::ordered_json finish = finish_reason.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(finish_reason);
  if (endpoint == Endpoint::chat_completions) {
    nlohmann::ordered_json delta = nlohmann::ordered_json::object();
    if (with_role) delta["role"] = "assistant";
    if (with_role || !text.empty() || finish_reason.empty()) delta["content"] = text;
    choice = {{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}};
  } else {
    choice = {{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
  }
  return {{"id", id},
          {"object", endpoint == Endpoint::chat_completions ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", nlohmann::ordered_json::array({choice})}};
}

nlohmann::ordered_json usage_chunk(Endpoint endpoint, const std::string& id, std::int64_t created,
                                   const std::string& model, const Usage& usage) {
  return {{"id", id},
          {"object", endpoint == Endpoint::chat_completions ? "chat.completion.chunk" : "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", nlohmann::ordered_json::array()},
          {"usage", usage_json(usage)}};
}

std::string server_sent_event(const nlohmann::ordered_json& value) {
  return "data: " + value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n\n";
}

}  // namespace tracemark::serving
