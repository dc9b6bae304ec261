#include "tracemark/verify/text_records.hpp"

#include "tracemark/error.hpp"

namespace tracemark {

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
    if (content.is_string()) texts.push_back(content.get<std::string>());
  }
  return texts;
}

}  // namespace tracemark
