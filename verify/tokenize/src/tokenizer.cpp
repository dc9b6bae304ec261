#include "tracemark/verify/tokenizer.hpp"

#include <algorithm>
#include <cstdio>

#include "byte_pair_encoder.hpp"
#include "pretokenizer.hpp"
#include "tokenizer_definition.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "unicode_text.hpp"

namespace tracemark {

std::shared_ptr<const Tokenizer> Tokenizer::from_definition(TokenizerDefinition definition) {
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(definition)));
}

Tokenizer::Tokenizer(TokenizerDefinition definition) {
  const std::string& source = definition.name;
  auto check_id = [&](std::uint32_t id) {
    if (id >= kMaxTokenizerVocabulary) {
      throw Error(ErrorCode::invalid_input, source + ": token id " + std::to_string(id) + " is not below " +
                                                std::to_string(kMaxTokenizerVocabulary) +
                                                ", the largest vocabulary tracemark reads; is this a tokenizer file?");
    }
  };
  for (const auto& token : definition.tokens) check_id(token.second);
  for (const SpecialToken& special : definition.special_tokens) check_id(special.id);
  vocab_sha256_ = definition_sha256(definition);
  pretokenizer_ = std::make_unique<const Pretokenizer>(definition.pattern, definition.dialect, definition.unmatched, source);
  encoder_ = std::make_unique<const BytePairEncoder>(definition, source);
  for (const SpecialToken& special : definition.special_tokens) {
    if (special.text.empty()) throw Error(ErrorCode::invalid_input, source + ": special token " + std::to_string(special.id) + " has no text");
    if (!encoder_->token_bytes(special.id).empty()) {
      throw Error(ErrorCode::invalid_input, source + ": special token \"" + escaped_excerpt(special.text) + "\" reuses the id " +
                                                std::to_string(special.id) + " of an ordinary token");
    }
    if (find_invalid_utf8(special.text) != kAllValid) {
      throw Error(ErrorCode::invalid_input, source + ": special token " + std::to_string(special.id) + " is not valid UTF-8");
    }
  }
  definition.tokens.clear();  // the encoder holds its own copy; keep only what encode and decode use
  definition.tokens.shrink_to_fit();
  definition.merges.clear();
  definition.merges.shrink_to_fit();
  definition_ = std::make_unique<const TokenizerDefinition>(std::move(definition));
}

Tokenizer::~Tokenizer() = default;

std::uint32_t Tokenizer::vocab_size() const noexcept {
  std::uint32_t largest = encoder_->max_id();
  for (const SpecialToken& special : definition_->special_tokens) largest = std::max(largest, special.id);
  return largest + 1;
}

const std::string& Tokenizer::name() const noexcept { return definition_->name; }
const std::string& Tokenizer::vocab_sha256() const noexcept { return vocab_sha256_; }

std::vector<std::uint32_t> Tokenizer::encode(std::string_view utf8, EncodeOptions options) const {
  const std::size_t invalid = find_invalid_utf8(utf8);
  if (invalid != kAllValid) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(utf8[invalid]));
    throw Error(ErrorCode::invalid_input, "invalid UTF-8 at byte offset " + std::to_string(invalid) + " (byte " + byte +
                                              "); convert the text to UTF-8, or encode it lossily to replace invalid bytes with U+FFFD");
  }
  std::vector<std::uint32_t> ids;
  encode_valid_into(utf8, options, ids);
  return ids;
}

LossyEncoding Tokenizer::encode_lossy(std::string_view bytes, EncodeOptions options) const {
  LossyEncoding result;
  if (find_invalid_utf8(bytes) == kAllValid) {
    encode_valid_into(bytes, options, result.ids);
  } else {
    const std::string repaired = replace_invalid_utf8(bytes, result.replacements);
    encode_valid_into(repaired, options, result.ids);
  }
  return result;
}

void Tokenizer::encode_valid_into(std::string_view text, EncodeOptions options, std::vector<std::uint32_t>& ids) const {
  std::string normalized_storage;
  const std::string_view normalized = normalize_utf8(text, definition_->normalization, normalized_storage);
  ids.reserve(ids.size() + normalized.size() / 4 + 8);

  // Special tokens split the text first (as tiktoken's encode and Hugging Face's added-token
  // matching do); the pattern never runs across them. At one position the longest one wins.
  struct Candidate {
    const SpecialToken* token;
    std::size_t next;  // next occurrence at or after the cursor, or npos
  };
  std::vector<Candidate> candidates;
  for (const SpecialToken& special : definition_->special_tokens) {
    if (options.allow_special || special.matched_always) candidates.push_back({&special, normalized.find(special.text)});
  }
  std::size_t cursor = 0;
  while (!candidates.empty()) {
    const Candidate* first = nullptr;
    for (Candidate& candidate : candidates) {
      if (candidate.next != std::string_view::npos && candidate.next < cursor) candidate.next = normalized.find(candidate.token->text, cursor);
      if (candidate.next == std::string_view::npos) continue;
      if (!first || candidate.next < first->next ||
          (candidate.next == first->next && candidate.token->text.size() > first->token->text.size())) {
        first = &candidate;
      }
    }
    if (!first) break;
    encode_ordinary_into(normalized.substr(cursor, first->next - cursor), ids);
    ids.push_back(first->token->id);
    cursor = first->next + first->token->text.size();
  }
  encode_ordinary_into(normalized.substr(cursor), ids);
}

void Tokenizer::encode_ordinary_into(std::string_view text, std::vector<std::uint32_t>& ids) const {
  if (text.empty()) return;
  std::string prefixed;
  if (definition_->add_prefix_space && text.front() != ' ') {
    prefixed.reserve(text.size() + 1);
    prefixed += ' ';
    prefixed += text;
    text = prefixed;
  }
  Pretokenizer::Pieces pieces(*pretokenizer_, text);
  std::string_view piece;
  while (pieces.next(piece)) encoder_->encode_piece(piece, ids);
}

std::string Tokenizer::decode(std::span<const std::uint32_t> ids) const {
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string_view bytes = encoder_->token_bytes(ids[i]);
    if (!bytes.empty()) {
      text += bytes;
      continue;
    }
    const auto& specials = definition_->special_tokens;
    const auto special = std::find_if(specials.begin(), specials.end(), [&](const SpecialToken& s) { return s.id == ids[i]; });
    if (special == specials.end()) {
      throw Error(ErrorCode::invalid_argument, "id " + std::to_string(ids[i]) + " at position " + std::to_string(i) +
                                                   " is not a token of tokenizer " + name());
    }
    text += special->text;
  }
  return text;
}

}  // namespace tracemark
