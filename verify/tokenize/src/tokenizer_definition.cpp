#include "tokenizer_definition.hpp"

#include <algorithm>

#include "tracemark/verify/base64_sha256.hpp"

namespace tracemark {
namespace {

std::string_view normalization_name(Normalization form) {
  switch (form) {
    case Normalization::none: return "none";
    case Normalization::nfc: return "nfc";
    case Normalization::nfkc: return "nfkc";
    case Normalization::nfd: return "nfd";
    case Normalization::nfkd: return "nfkd";
  }
  return "none";
}

std::string_view dialect_name(PatternDialect dialect) {
  switch (dialect) {
    case PatternDialect::rust_regex: return "rust-regex";
    case PatternDialect::ecmascript: return "ecmascript";
    case PatternDialect::oniguruma: return "oniguruma";
  }
  return "rust-regex";
}

}  // namespace

// The canonical layout (version 1), one item a line, every number in decimal; docs/DESIGN.md
// repeats it. Tokens are listed by ascending id as "base64(bytes) id", which for a tiktoken
// encoding is exactly its .tiktoken rank file.
std::string definition_sha256(const TokenizerDefinition& definition) {
  std::string text = "tracemark-tokenizer-definition 1\n";
  text += "normalization " + std::string(normalization_name(definition.normalization)) + "\n";
  text += "pattern-dialect " + std::string(dialect_name(definition.dialect)) + "\n";
  text += "pattern " + std::to_string(definition.pattern.size()) + " " + definition.pattern + "\n";
  text += std::string("unmatched-text ") + (definition.unmatched == UnmatchedText::keep ? "keep" : "drop") + "\n";
  text += std::string("add-prefix-space ") + (definition.add_prefix_space ? "1" : "0") + "\n";
  text += std::string("merge-rule ") + (definition.merge_rule == MergeRule::merge_list ? "merge-list" : "token-ranks") + "\n";
  text += std::string("whole-piece-first ") + (definition.whole_piece_first ? "1" : "0") + "\n";

  std::vector<const std::pair<std::string, std::uint32_t>*> tokens;
  for (const auto& token : definition.tokens) tokens.push_back(&token);
  std::sort(tokens.begin(), tokens.end(), [](const auto* a, const auto* b) { return a->second < b->second; });
  text += "tokens " + std::to_string(tokens.size()) + "\n";
  for (const auto* token : tokens) text += base64_encode(token->first) + " " + std::to_string(token->second) + "\n";

  text += "merges " + std::to_string(definition.merges.size()) + "\n";
  for (const auto& [left, right] : definition.merges) text += std::to_string(left) + " " + std::to_string(right) + "\n";

  std::vector<const SpecialToken*> specials;
  for (const auto& special : definition.special_tokens) specials.push_back(&special);
  std::sort(specials.begin(), specials.end(),
            [](const auto* a, const auto* b) { return a->id != b->id ? a->id < b->id : a->text < b->text; });
  text += "special-tokens " + std::to_string(specials.size()) + "\n";
  for (const auto* special : specials) {
    text += base64_encode(special->text) + " " + std::to_string(special->id) + " " + (special->matched_always ? "1" : "0") + "\n";
  }
  return sha256_hex(text);
}

}  // namespace tracemark
