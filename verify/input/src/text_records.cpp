#include "tracemark/verify/text_records.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

std::string tool_call_text(const std::string& content, const nlohmann::json& tool_calls, const std::string& where) {
  if (!tool_calls.is_array()) throw Error(ErrorCode::invalid_input, where + ": \"tool_calls\" is not an array");
  std::string text = content;
  for (std::size_t i = 0; i < tool_calls.size(); ++i) {
    const nlohmann::json& call = tool_calls[i];
    const bool ok = call.is_object() && call.contains("function") && call["function"].is_object() &&
                    call["function"].contains("name") && call["function"]["name"].is_string() &&
                    call["function"].contains("arguments") && call["function"]["arguments"].is_string();
    if (!ok) {
      throw Error(ErrorCode::invalid_input, where + ": tool_calls[" + std::to_string(i) +
                                                "] lacks function.name and function.arguments as strings");
    }
    if (!text.empty()) text += "\n";
    text += "<tool_call>{\"name\": " + call["function"]["name"].dump() +
            ", \"arguments\": " + call["function"]["arguments"].get<std::string>() + "}</tool_call>";
  }
  return text;
}

std::optional<std::vector<std::string>> record_texts(const JsonlReader& reader, const JsonlRecord& record) {
  const nlohmann::json& value = record.value;
  if (!value.is_object()) return std::nullopt;
  if (value.contains("text")) {
    const nlohmann::json& text = value["text"];
    if (!text.is_string()) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": field \"text\" is " + std::string(text.type_name()) + ", not a string");
    }
    return std::vector<std::string>{text.get<std::string>()};
  }
  if (!value.contains("choices")) return std::nullopt;
  const nlohmann::json& choices = value["choices"];
  if (!choices.is_array()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": field \"choices\" is not an array; expected an OpenAI chat completion");
  }
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const nlohmann::json& choice = choices[i];
    // A completions object's choice carries "text"; a chat completion's, "message": {"content"}.
    if (choice.is_object() && choice.contains("text") && choice["text"].is_string()) {
      texts.push_back(choice["text"].get<std::string>());
      continue;
    }
    const bool has_content = choice.is_object() && choice.contains("message") && choice["message"].is_object() &&
                             choice["message"].contains("content") &&
                             (choice["message"]["content"].is_string() || choice["message"]["content"].is_null());
    if (!has_content) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": choices[" + std::to_string(i) +
                                                "] has neither message.content nor text as a string; expected an OpenAI "
                                                "chat completion or completion object");
    }
    const nlohmann::json& content = choice["message"]["content"];
    const nlohmann::json& message = choice["message"];
    if (message.contains("tool_calls") && !message["tool_calls"].is_null()) {
      texts.push_back(tool_call_text(content.is_string() ? content.get<std::string>() : std::string(),
                                     message["tool_calls"], reader.where(record) + ": choices[" + std::to_string(i) + "]"));
    } else if (content.is_string()) {
      texts.push_back(content.get<std::string>());
    }
  }
  return texts;
}

}  // namespace tracemark
