#include "tracemark/verify/prompt_records.hpp"

#include <set>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"

namespace tracemark {
namespace {

constexpr const char* kExpectedPrompt =
    ": expected an object with \"prompt\" (a text or chat messages), \"messages\" (chat messages {\"role\", "
    "\"content\"}) or \"prompt_tokens\" (an array of token ids), and an \"id\"";

std::vector<ChatMessage> messages_of(const JsonlReader& reader, const JsonlRecord& record, const nlohmann::json& value,
                                     const char* field) {
  std::vector<ChatMessage> messages;
  for (const nlohmann::json& message : value) {
    if (!message.is_object() || !message.contains("content") || !message["content"].is_string() ||
        (message.contains("role") && !message["role"].is_string())) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"" + field +
                                                "\" is a list, but not of chat messages {\"role\", \"content\": text}");
    }
    messages.push_back({message.value("role", std::string("user")), message["content"].get<std::string>()});
  }
  if (messages.empty()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"" + field + "\" holds no chat messages");
  }
  return messages;
}

}  // namespace

std::vector<std::uint32_t> record_prompt_tokens(const JsonlReader& reader, const JsonlRecord& record) {
  JsonlRecord as_tokens = record;
  as_tokens.value = {{"tokens", record.value.is_object() ? record.value.value("prompt_tokens", nlohmann::json()) : nlohmann::json()}};
  try {
    return record_tokens(reader, as_tokens);
  } catch (const Error&) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"prompt_tokens\" must be an array of token ids");
  }
}

nlohmann::json Prompt::text_or_messages() const {
  if (text) return *text;
  if (!messages) return nullptr;
  nlohmann::json list = nlohmann::json::array();
  for (const ChatMessage& message : *messages) list.push_back({{"role", message.role}, {"content", message.content}});
  return list;
}

std::optional<Prompt> prompt_of_record(const JsonlReader& reader, const JsonlRecord& record) {
  const nlohmann::json& value = record.value;
  if (!value.is_object()) return std::nullopt;
  Prompt prompt;
  prompt.id = record_id(record);
  prompt.line = record.line;
  if (value.contains("prompt_tokens") && !value["prompt_tokens"].is_null()) prompt.tokens = record_prompt_tokens(reader, record);
  if (value.contains("prompt") && !value["prompt"].is_null()) {
    const nlohmann::json& field = value["prompt"];
    if (field.is_string()) {
      prompt.text = field.get<std::string>();
    } else if (field.is_array()) {
      prompt.messages = messages_of(reader, record, field, "prompt");
    } else {
      throw Error(ErrorCode::invalid_input, reader.where(record) + kExpectedPrompt + "; its \"prompt\" is " +
                                                std::string(field.type_name()));
    }
  }
  if (value.contains("messages") && !prompt.messages) {
    if (!value["messages"].is_array()) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"messages\" must be a list of chat messages "
                                                                   "{\"role\", \"content\": text}");
    }
    prompt.messages = messages_of(reader, record, value["messages"], "messages");
  }
  if (!prompt.tokens && !prompt.text && !prompt.messages) return std::nullopt;
  prompt.tokenizer = record_tokenizer(reader, record);
  if (value.contains("tools")) prompt.tools = value["tools"];
  return prompt;
}

std::vector<Prompt> read_prompt_file(const std::filesystem::path& path, std::size_t max_record_bytes) {
  std::vector<Prompt> prompts;
  std::set<std::string> seen;
  JsonlReader reader(path, max_record_bytes);
  JsonlRecord record;
  while (reader.next(record)) {
    std::optional<Prompt> prompt = prompt_of_record(reader, record);
    if (!prompt && record.value.is_object()) {
      // A file of responses (or of tokenize's output) used as prompts: its ids or its text.
      Prompt fallback;
      fallback.id = record_id(record);
      fallback.line = record.line;
      if (record.value.contains("tokens")) fallback.tokens = record_tokens(reader, record);
      if (record.value.contains("text") && record.value["text"].is_string()) fallback.text = record.value["text"].get<std::string>();
      if (fallback.tokens || fallback.text) {
        fallback.tokenizer = record_tokenizer(reader, record);
        prompt = std::move(fallback);
      }
    }
    if (!prompt) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + kExpectedPrompt);
    }
    if (!seen.insert(prompt->id.dump()).second) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": id " + json_excerpt(prompt->id) +
                                                " appears twice; ids match prompts to their responses (and let a probe "
                                                "resume), so give every prompt its own");
    }
    prompts.push_back(std::move(*prompt));
  }
  return prompts;
}

std::string render_chat_prompt(const std::vector<ChatMessage>& messages) {
  std::string text;
  for (const ChatMessage& message : messages) {
    text += message.role;
    text += ": ";
    text += message.content;
    text += "\n\n";
  }
  text += "assistant:";
  return text;
}

std::string joined_chat_contents(const std::vector<ChatMessage>& messages) {
  std::string joined;
  for (const ChatMessage& message : messages) {
    if (!joined.empty()) joined += "\n\n";
    joined += message.content;
  }
  return joined;
}

}  // namespace tracemark
