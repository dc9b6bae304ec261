// tiktoken's vocabulary formats: its JSON (npm tiktoken, claude.json) and bare rank files.
#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "tracemark/verify/base64_sha256.hpp"
#include "tokenizer_loaders.hpp"
#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/text_lines.hpp"

namespace tracemark {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < line.size()) {
    const std::size_t end = std::min(line.find(' ', at), line.size());
    if (end > at) fields.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return fields;
}

std::uint32_t parse_rank(std::string_view text, const std::string& where, std::size_t line) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value == 0xFFFFFFFFu) {
    throw Error(ErrorCode::invalid_input, where + " line " + std::to_string(line) + ": \"" + std::string(text) +
                                              "\" is not a rank (an integer from 0 to 2^32-2)");
  }
  return value;
}

std::string decode_token(std::string_view text, const std::string& where, std::size_t line) {
  std::optional<std::string> bytes = base64_decode(text);
  if (!bytes || bytes->empty()) {
    throw Error(ErrorCode::invalid_input, where + " line " + std::to_string(line) + ": \"" + std::string(text.substr(0, 40)) +
                                              "\" is not a base64 token");
  }
  return std::move(*bytes);
}

// The encodings whose bare rank files are recognised, with what tiktoken (tiktoken_ext/openai_public.py)
// adds to them. Their patterns and special tokens are the same as in npm tiktoken's encoder JSON.
struct KnownRankFile {
  std::string_view ranks_sha256;
  std::string_view name;
  std::string_view pattern;
  std::vector<std::pair<std::string_view, std::uint32_t>> special_tokens;
};

const std::vector<KnownRankFile>& known_rank_files() {
  static const std::vector<KnownRankFile> files = {
      {"223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", "cl100k_base",
       R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259}, {"<|fim_suffix|>", 100260},
        {"<|endofprompt|>", 100276}}},
      {"446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", "o200k_base",
       R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
       {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
  };
  return files;
}

}  // namespace

std::vector<std::pair<std::string, std::uint32_t>> parse_tiktoken_ranks(std::string_view text, const std::string& where) {
  std::vector<std::pair<std::string_view, std::size_t>> lines;  // (line, line number)
  bool compact = false;
  for_each_line(text, [&](std::string_view line, const LinePosition& position) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return;
    // A line of more than two fields can only be the compact layout.
    if (std::count(line.begin(), line.end(), ' ') >= 2) compact = true;
    lines.emplace_back(line, position.line);
  });
  std::vector<std::pair<std::string, std::uint32_t>> ranks;
  for (const auto& [line, line_number] : lines) {
    const std::vector<std::string_view> fields = split_fields(line);
    if (!compact) {
      if (fields.size() != 2) {
        throw Error(ErrorCode::invalid_input, where + " line " + std::to_string(line_number) + ": expected \"base64 rank\"");
      }
      ranks.emplace_back(decode_token(fields[0], where, line_number), parse_rank(fields[1], where, line_number));
      continue;
    }
    if (fields.size() < 2) {
      throw Error(ErrorCode::invalid_input, where + " line " + std::to_string(line_number) +
                                                ": expected \"label first_rank base64 base64 ...\"");
    }
    const std::uint32_t first = parse_rank(fields[1], where, line_number);
    for (std::size_t i = 2; i < fields.size(); ++i) {
      const std::uint64_t rank = std::uint64_t{first} + (i - 2);
      if (rank >= 0xFFFFFFFFull) throw Error(ErrorCode::invalid_input, where + " line " + std::to_string(line_number) + ": rank overflows");
      ranks.emplace_back(decode_token(fields[i], where, line_number), static_cast<std::uint32_t>(rank));
    }
  }
  if (ranks.empty()) throw Error(ErrorCode::invalid_input, where + ": no ranks");
  return ranks;
}

std::string rank_file_sha256(const std::vector<std::pair<std::string, std::uint32_t>>& ranks) {
  std::vector<const std::pair<std::string, std::uint32_t>*> sorted;
  for (const auto& rank : ranks) sorted.push_back(&rank);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) { return a->second < b->second; });
  std::string text;
  for (const auto* rank : sorted) text += base64_encode(rank->first) + " " + std::to_string(rank->second) + "\n";
  return sha256_hex(text);
}

TokenizerDefinition load_tiktoken_json(std::string_view contents, const std::string& source) {
  const nlohmann::json json = parse_json(contents, source);
  auto field = [&](const char* name, nlohmann::json::value_t type, const char* what) -> const nlohmann::json& {
    if (!json.is_object() || !json.contains(name) || json[name].type() != type) {
      throw Error(ErrorCode::invalid_input, source + ": field \"" + name + "\" (" + what +
                                                ") is missing; a tiktoken JSON has pat_str, special_tokens and bpe_ranks");
    }
    return json[name];
  };
  TokenizerDefinition definition;
  definition.pattern = field("pat_str", nlohmann::json::value_t::string, "the pre-tokenizer regex").get<std::string>();
  definition.dialect = PatternDialect::rust_regex;
  definition.unmatched = UnmatchedText::drop;
  definition.merge_rule = MergeRule::token_ranks;
  definition.tokens = parse_tiktoken_ranks(field("bpe_ranks", nlohmann::json::value_t::string, "rank lines").get<std::string>(),
                                           source + " bpe_ranks");
  for (const auto& [text, id] : field("special_tokens", nlohmann::json::value_t::object, "name to id").items()) {
    if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= 0xFFFFFFFFull) {
      throw Error(ErrorCode::invalid_input, source + ": special token " + escaped_excerpt(text) + " has id " + json_excerpt(id) + ", not an id");
    }
    definition.special_tokens.push_back({text, id.get<std::uint32_t>(), false});
  }
  return definition;
}

TokenizerDefinition load_tiktoken_rank_file(std::string_view contents, const std::string& source) {
  TokenizerDefinition definition;
  definition.tokens = parse_tiktoken_ranks(contents, source);
  const std::string digest = rank_file_sha256(definition.tokens);
  const auto& known = known_rank_files();
  const auto match = std::find_if(known.begin(), known.end(), [&](const KnownRankFile& file) { return file.ranks_sha256 == digest; });
  if (match == known.end()) {
    throw Error(ErrorCode::unsupported, source + ": a bare rank file has no pre-tokenizer pattern or special tokens, and this one (ranks SHA-256 " +
                                            digest + ") is not cl100k_base's or o200k_base's; give a tiktoken JSON "
                                            "{\"pat_str\", \"special_tokens\", \"bpe_ranks\"} instead");
  }
  definition.pattern = std::string(match->pattern);
  definition.dialect = PatternDialect::rust_regex;
  definition.unmatched = UnmatchedText::drop;
  definition.merge_rule = MergeRule::token_ranks;
  for (const auto& [text, id] : match->special_tokens) definition.special_tokens.push_back({std::string(text), id, false});
  return definition;
}

}  // namespace tracemark
