#include "tracemark/verify/suspect_records.hpp"

#include "tracemark/error.hpp"
#include "tracemark/verify/fast_token_record.hpp"
#include "tracemark/verify/text_records.hpp"

namespace tracemark {

TokenSource parse_token_source(const std::string& name) {
  if (name == "auto") return TokenSource::automatic;
  if (name == "tokens") return TokenSource::tokens;
  if (name == "text") return TokenSource::text;
  throw Error(ErrorCode::invalid_argument, "unknown token source \"" + name + "\"; use auto, tokens or text");
}

std::vector<std::uint32_t> SuspectRecordDecoder::encode(const JsonlReader& reader, const JsonlRecord& record,
                                                         const std::string& text) const {
  const Tokenizer& tokenizer = tokenizer_.get(reader.where(record));
  try {
    return tokenizer.encode(text);
  } catch (const Error& e) {
    throw Error(e.code(), reader.where(record) + ": " + e.what() +
                              " (offset within the text after JSON unescaping); fix the encoding or run tracemark tokenize --lossy");
  }
}

std::optional<std::vector<std::uint32_t>> SuspectRecordDecoder::prompt_of(const JsonlReader& reader,
                                                                         const JsonlRecord& record) const {
  const nlohmann::json& value = record.value;
  if (value.contains("prompt_tokens")) {
    JsonlRecord as_tokens = record;
    as_tokens.value = {{"tokens", value["prompt_tokens"]}};
    try {
      return record_tokens(reader, as_tokens);
    } catch (const Error&) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"prompt_tokens\" must be an array of token ids");
    }
  }
  if (!value.contains("prompt")) return std::nullopt;
  const nlohmann::json& prompt = value["prompt"];
  if (prompt.is_string()) return encode(reader, record, prompt.get<std::string>());
  if (prompt.is_array()) {
    // Chat messages: their contents joined by blank lines. The joins add a few windows that span
    // two messages; dropping tuples that match them can only make the test more conservative.
    std::string joined;
    for (const nlohmann::json& message : prompt) {
      if (!message.is_object() || !message.contains("content") || !message["content"].is_string()) {
        throw Error(ErrorCode::invalid_input, reader.where(record) +
                                                  ": \"prompt\" is a list, but not of chat messages {\"role\", \"content\": text}");
      }
      if (!joined.empty()) joined += "\n\n";
      joined += message["content"].get<std::string>();
    }
    return encode(reader, record, joined);
  }
  if (prompt.is_null()) return std::nullopt;
  throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"prompt\" is " + std::string(prompt.type_name()) +
                                            "; expected a text or a list of chat messages");
}

SuspectRecord SuspectRecordDecoder::decode(const JsonlReader& reader, const JsonlLine& line) const {
  SuspectRecord result;
  // Fast path for the common {"id", "tokens"} record: no DOM is built.
  if (source_ != TokenSource::text) {
    if (auto fast = parse_token_record_fast(line.text); fast && !fast->has_prompt) {
      result.id = fast->id ? *fast->id : std::to_string(line.line);
      result.responses.push_back(std::move(fast->tokens));
      return result;
    }
  }
  const JsonlRecord record = reader.parse_line(line);
  if (!record.value.is_object()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": expected a JSON object (a response record)");
  }
  const nlohmann::json id = record_id(record);
  result.id = id.is_string() ? id.get<std::string>() : id.dump();
  const bool has_tokens = record.value.contains("tokens");
  if (source_ == TokenSource::tokens || (source_ == TokenSource::automatic && has_tokens)) {
    result.responses.push_back(record_tokens(reader, record));
  } else {
    const std::optional<std::vector<std::string>> texts = record_texts(reader, record);
    if (!texts) {
      throw Error(ErrorCode::invalid_input,
                  reader.where(record) + ": no response found; expected \"tokens\": [ids], \"text\": \"...\", or an OpenAI "
                                         "chat completion or completion object with \"choices\"" +
                      (has_tokens ? " (this record has \"tokens\", but text was asked for)" : ""));
    }
    for (const std::string& text : *texts) result.responses.push_back(encode(reader, record, text));
  }
  result.prompt = prompt_of(reader, record);
  return result;
}

}  // namespace tracemark
