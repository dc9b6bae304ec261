#include "tracemark/verify/fast_token_record.hpp"

#include <simdjson.h>

namespace tracemark {

std::optional<FastTokenRecord> parse_token_record_fast(std::string_view line) {
  thread_local simdjson::ondemand::parser parser;
  const simdjson::padded_string padded(line);
  simdjson::ondemand::document document;
  if (parser.iterate(padded).get(document) != simdjson::SUCCESS) return std::nullopt;
  simdjson::ondemand::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) return std::nullopt;
  FastTokenRecord record;
  bool seen_tokens = false, seen_id = false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return std::nullopt;
    if (key == "tokens") {
      if (seen_tokens) return std::nullopt;  // duplicate key: let the general parser decide
      seen_tokens = true;
      simdjson::ondemand::array array;
      if (field.value().get_array().get(array) != simdjson::SUCCESS) return std::nullopt;
      for (auto element : array) {
        std::uint64_t id = 0;
        if (element.get_uint64().get(id) != simdjson::SUCCESS || id > 0xFFFFFFFFull) return std::nullopt;
        record.tokens.push_back(static_cast<std::uint32_t>(id));
      }
    } else if (key == "id") {
      if (seen_id) return std::nullopt;
      seen_id = true;
      simdjson::ondemand::value value;
      if (field.value().get(value) != simdjson::SUCCESS) return std::nullopt;
      simdjson::ondemand::json_type type;
      if (value.type().get(type) != simdjson::SUCCESS) return std::nullopt;
      if (type == simdjson::ondemand::json_type::string) {
        std::string_view text;
        if (value.get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
        record.id = std::string(text);
      } else if (type == simdjson::ondemand::json_type::number) {
        // Integers only: the general path prints other numbers its own way.
        std::int64_t number = 0;
        if (value.get_int64().get(number) != simdjson::SUCCESS) return std::nullopt;
        record.id = std::to_string(number);
      }
    } else if (key == "prompt_tokens" || key == "prompt") {
      record.has_prompt = true;
    }
  }
  // Past the end of the input only if nothing follows the object (trailing bytes: general path).
  if (!seen_tokens || document.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  return record;
}

}  // namespace tracemark
