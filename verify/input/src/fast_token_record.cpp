#include "tracemark/verify/fast_token_record.hpp"

#include <simdjson.h>

#include "tracemark/json_input.hpp"

namespace tracemark {

std::optional<FastTokenRecord> parse_token_record_fast(std::string_view line) {
  // simdjson's DOM parser validates the whole line (literals, escapes, numbers, UTF-8), unlike its
  // on-demand parser, which skips the fields it is not asked for: so a line this path accepts is
  // one the general path accepts too (tests/fuzz checks it), and scan and detect agree on what is
  // JSON. The depth limit is the general path's own check.
  if (json_too_deep_at(line)) return std::nullopt;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element document;
  if (parser.parse(line.data(), line.size()).get(document) != simdjson::SUCCESS) return std::nullopt;
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  FastTokenRecord record;
  bool seen_tokens = false, seen_id = false;
  for (const simdjson::dom::key_value_pair field : object) {
    const std::string_view key = field.key;
    if (key == "tokens") {
      if (seen_tokens) return std::nullopt;  // duplicate key: let the general parser decide
      seen_tokens = true;
      simdjson::dom::array array;
      if (field.value.get_array().get(array) != simdjson::SUCCESS) return std::nullopt;
      record.tokens.reserve(array.size());
      for (const simdjson::dom::element element : array) {
        std::uint64_t id = 0;
        if (!element.is_uint64() && !element.is_int64()) return std::nullopt;
        if (element.get_uint64().get(id) != simdjson::SUCCESS || id > 0xFFFFFFFFull) return std::nullopt;
        record.tokens.push_back(static_cast<std::uint32_t>(id));
      }
    } else if (key == "id") {
      if (seen_id) return std::nullopt;
      seen_id = true;
      if (field.value.is_string()) {
        record.id = std::string(std::string_view(field.value));
      } else if (field.value.is_number()) {
        // Integers only: the general path prints other numbers its own way.
        std::int64_t number = 0;
        if (!field.value.is_int64() || field.value.get_int64().get(number) != simdjson::SUCCESS) return std::nullopt;
        record.id = std::to_string(number);
        record.id_is_number = true;
      }
    } else if (key == "prompt_tokens" || key == "prompt" || key == "messages") {
      record.has_prompt = true;
    } else if (key == "tokenizer") {
      if (record.tokenizer_sha256) return std::nullopt;
      simdjson::dom::object tokenizer;
      if (field.value.get_object().get(tokenizer) != simdjson::SUCCESS) return std::nullopt;
      bool seen_name = false;
      for (const simdjson::dom::key_value_pair member : tokenizer) {
        const std::string_view name = member.key;
        std::string_view text;
        if (name != "name" && name != "vocab_sha256") continue;
        if (member.value.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
        if (name == "name") {
          if (seen_name) return std::nullopt;
          seen_name = true;
        } else {
          if (record.tokenizer_sha256 || text.size() != 64 ||
              text.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
            return std::nullopt;  // a duplicate or a malformed digest: the general path says why
          }
          record.tokenizer_sha256 = std::string(text);
        }
      }
      if (!seen_name || !record.tokenizer_sha256) return std::nullopt;  // malformed: the general path says why
    }
  }
  if (!seen_tokens) return std::nullopt;
  return record;
}

}  // namespace tracemark
