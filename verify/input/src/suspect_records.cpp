#include "tracemark/verify/suspect_records.hpp"

#include "tracemark/error.hpp"
#include "tracemark/verify/fast_token_record.hpp"
#include "tracemark/verify/text_records.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark {

TokenSource parse_token_source(const std::string& name) {
  if (name == "auto") return TokenSource::automatic;
  if (name == "tokens") return TokenSource::tokens;
  if (name == "text") return TokenSource::text;
  throw Error(ErrorCode::invalid_argument, "unknown token source \"" + name + "\"; use auto, tokens or text");
}

bool SuspectRecordDecoder::is_foreign(const std::optional<TokenizerBinding>& named) const {
  return named && tokenizer_.binding() && named->vocab_sha256 != tokenizer_.binding()->vocab_sha256;
}

std::vector<std::uint32_t> SuspectRecordDecoder::encode(const std::string& where, const std::string& text) const {
  const Tokenizer& tokenizer = tokenizer_.get(where);
  try {
    return tokenizer.encode(text);
  } catch (const Error& e) {
    throw Error(e.code(), where + ": " + e.what() +
                              " (offset within the text after JSON unescaping); fix the encoding or run tracemark tokenize --lossy");
  }
}

std::optional<std::vector<std::uint32_t>> SuspectRecordDecoder::prompt_ids(const std::string& where, const Prompt& prompt) const {
  const bool ids_are_ours = !is_foreign(prompt.tokenizer) && source_ != TokenSource::text;
  if (prompt.tokens && ids_are_ours) return prompt.tokens;
  if (prompt.text) return encode(where, *prompt.text);
  // Chat messages: their contents joined by blank lines. The joins add a few windows that span two
  // messages; dropping tuples that match them can only make the test more conservative.
  if (prompt.messages) return encode(where, joined_chat_contents(*prompt.messages));
  return std::nullopt;
}

std::optional<std::vector<float>> recorded_entropy(const JsonlReader& reader, const JsonlRecord& record,
                                                   const std::vector<std::vector<std::uint32_t>>& responses) {
  const nlohmann::json& value = record.value;
  if (!value.contains("entropy") || value["entropy"].is_null()) return std::nullopt;
  const nlohmann::json& entropy = value["entropy"];
  if (!entropy.is_array()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"entropy\" must be an array of numbers (nats, one per token)");
  }
  if (responses.size() != 1 || responses.front().size() != entropy.size()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"entropy\" has " + std::to_string(entropy.size()) +
                                              " values but the response has " +
                                              std::to_string(responses.empty() ? 0 : responses.front().size()) +
                                              " tokens; it must hold one value per token of a single response");
  }
  std::vector<float> values;
  values.reserve(entropy.size());
  for (std::size_t i = 0; i < entropy.size(); ++i) {
    if (!entropy[i].is_number() || !(entropy[i].get<double>() >= 0.0)) {
      throw Error(ErrorCode::invalid_input, reader.where(record) + ": \"entropy\"[" + std::to_string(i) +
                                                "] is not a number >= 0");
    }
    values.push_back(entropy[i].get<float>());
  }
  return values;
}

SuspectRecord SuspectRecordDecoder::decode(const JsonlReader& reader, const JsonlLine& line) const {
  SuspectRecord result;
  // Fast path for the common {"id", "tokens"} record: no DOM is built. It gives exactly the ids the
  // general path below would (the same rule; fast_token_record_test compares the two).
  if (source_ != TokenSource::text) {
    // A record with recorded entropy takes the general path, which reads it.
    if (auto fast = parse_token_record_fast(line.text);
        fast && !fast->has_prompt && line.text.find("\"entropy\"") == std::string_view::npos) {
      const bool foreign = fast->tokenizer_sha256 && tokenizer_.binding() &&
                           *fast->tokenizer_sha256 != tokenizer_.binding()->vocab_sha256;
      if (!foreign) {
        result.id = fast->id ? *fast->id : std::to_string(line.line);
        result.id_is_number = !fast->id || fast->id_is_number;
        result.responses.push_back(std::move(fast->tokens));
        return result;
      }
    }
  }
  if (const std::size_t invalid = find_invalid_utf8(line.text); invalid != kAllValid) {
    throw Error(ErrorCode::invalid_input, describe_position(reader.name(), {line.line, line.byte_offset}, invalid) +
                                              ": invalid UTF-8; convert the file to UTF-8, or run tracemark tokenize --lossy first");
  }
  const JsonlRecord record = reader.parse_line(line);
  if (!record.value.is_object()) {
    throw Error(ErrorCode::invalid_input, reader.where(record) + ": expected a JSON object (a response record)");
  }
  const std::string where = reader.where(record);
  const nlohmann::json id = record_id(record);
  result.id = id.is_string() ? id.get<std::string>() : id.dump();
  result.id_is_number = !id.is_string();
  const std::optional<TokenizerBinding> named = record_tokenizer(reader, record);
  const bool foreign = is_foreign(named);
  const bool has_tokens = record.value.contains("tokens");
  const auto foreign_ids = [&] {
    return "its ids are of tokenizer " + named->name + " (sha256:" + named->vocab_sha256 + "), not of the keys' " +
           tokenizer_.binding()->name + " (sha256:" + tokenizer_.binding()->vocab_sha256 + "), and are never scored as ours";
  };
  if (source_ == TokenSource::tokens && foreign) {
    throw Error(ErrorCode::invalid_input, where + ": " + foreign_ids() + "; use --input auto or text to read its text");
  }
  const bool read_ids = source_ == TokenSource::tokens || (source_ == TokenSource::automatic && has_tokens && !foreign);
  if (read_ids) {
    result.responses.push_back(record_tokens(reader, record));
  } else {
    const std::optional<std::vector<std::string>> texts = record_texts(reader, record);
    if (!texts) {
      if (foreign) throw Error(ErrorCode::invalid_input, where + ": " + foreign_ids() + ", and the record holds no text to read instead");
      throw Error(ErrorCode::invalid_input,
                  where + ": no response found; expected \"tokens\": [ids], \"text\": \"...\", or an OpenAI "
                          "chat completion or completion object with \"choices\"" +
                      (has_tokens ? " (this record has \"tokens\", but text was asked for)" : ""));
    }
    for (const std::string& text : *texts) result.responses.push_back(encode(where, text));
    if (foreign && source_ == TokenSource::automatic) result.foreign_ids = named;
  }
  if (const std::optional<Prompt> prompt = prompt_of_record(reader, record)) result.prompt = prompt_ids(where, *prompt);
  if (read_ids) result.entropy = recorded_entropy(reader, record, result.responses);
  return result;
}

}  // namespace tracemark
