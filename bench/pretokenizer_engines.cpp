// Pre-tokenizer regex engines compared on the same texts and the same translated pattern:
// PCRE2 with its JIT (what tracemark uses) and ICU's regex (UTF-16, after converting each text).
// Prints MB/s (10^6 bytes of UTF-8 input per second, best of REPEATS) for each and whether the two
// give exactly the same pieces on every text (docs/DESIGN.md, "Tokenizers", has the figures).
// Usage: pretokenizer_engines TIKTOKEN_JSON TEXTS.jsonl... [--repeats N]
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tracemark/json_input.hpp"
#include "pretokenizer.hpp"
#include "tokenizer_loaders.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> pcre2_pieces(const tracemark::Pretokenizer& pretokenizer, const std::string& text) {
  std::vector<std::string> pieces;
  tracemark::Pretokenizer::Pieces iterator(pretokenizer, text);
  std::string_view piece;
  while (iterator.next(piece)) pieces.emplace_back(piece);
  return pieces;
}

std::vector<std::string> icu_pieces(icu::RegexPattern& pattern, const std::string& text, std::size_t& bytes_matched) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::UnicodeString utf16 = icu::UnicodeString::fromUTF8(text);
  std::unique_ptr<icu::RegexMatcher> matcher(pattern.matcher(utf16, status));
  std::vector<std::string> pieces;
  while (matcher->find(status) && U_SUCCESS(status)) {
    std::string piece;
    matcher->group(status).toUTF8String(piece);
    bytes_matched += piece.size();
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TIKTOKEN_JSON TEXTS.jsonl... [--repeats N]\n", argv[0]);
    return 2;
  }
  int repeats = 5;
  std::vector<std::string> texts;
  std::size_t bytes = 0;
  for (int a = 2; a < argc; ++a) {
    if (std::string(argv[a]) == "--repeats" && a + 1 < argc) {
      repeats = std::stoi(argv[++a]);
      continue;
    }
    std::ifstream file(argv[a]);
    std::string line;
    while (std::getline(file, line)) {
      texts.push_back(tracemark::parse_json(line, argv[a]).at("text").get<std::string>());
      bytes += texts.back().size();
    }
  }
  std::ifstream spec_file(argv[1]);
  std::stringstream spec;
  spec << spec_file.rdbuf();
  const tracemark::TokenizerDefinition definition = tracemark::load_tiktoken_json(spec.str(), argv[1]);
  const tracemark::Pretokenizer pretokenizer(definition.pattern, definition.dialect, definition.unmatched, argv[1]);

  UErrorCode status = U_ZERO_ERROR;
  UParseError parse_error;
  std::unique_ptr<icu::RegexPattern> icu_pattern(
      icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(pretokenizer.translated_pattern()), parse_error, status));
  if (U_FAILURE(status)) {
    std::fprintf(stderr, "ICU cannot compile the pattern: %s\n", u_errorName(status));
    return 1;
  }

  std::size_t differing = 0, pieces = 0;
  for (const std::string& text : texts) {
    std::size_t ignored = 0;
    const auto a = pcre2_pieces(pretokenizer, text);
    if (a != icu_pieces(*icu_pattern, text, ignored)) ++differing;
    pieces += a.size();
  }
  double best_pcre2 = 1e300, best_icu = 1e300;
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    std::size_t count = 0;
    for (const std::string& text : texts) {
      tracemark::Pretokenizer::Pieces iterator(pretokenizer, text);
      std::string_view piece;
      while (iterator.next(piece)) count += piece.size();
    }
    best_pcre2 = std::min(best_pcre2, std::chrono::duration<double>(Clock::now() - start).count());
    start = Clock::now();
    std::size_t matched = 0;
    for (const std::string& text : texts) {
      UErrorCode match_status = U_ZERO_ERROR;
      const icu::UnicodeString utf16 = icu::UnicodeString::fromUTF8(text);
      std::unique_ptr<icu::RegexMatcher> matcher(icu_pattern->matcher(utf16, match_status));
      while (matcher->find(match_status) && U_SUCCESS(match_status)) matched += static_cast<std::size_t>(matcher->end(match_status) - matcher->start(match_status));
    }
    best_icu = std::min(best_icu, std::chrono::duration<double>(Clock::now() - start).count());
    if (count == 0 || matched == 0) std::printf("(no pieces)\n");
  }
  std::printf("%zu texts, %zu bytes, %zu pieces; texts whose pieces differ between the engines: %zu\n", texts.size(), bytes,
              pieces, differing);
  char version[64] = "?";
  pcre2_config(PCRE2_CONFIG_VERSION, version);
  std::printf("PCRE2 %s JIT: %.1f MB/s\n", version, static_cast<double>(bytes) / best_pcre2 / 1e6);
  std::printf("ICU %s regex (UTF-16, conversion included): %.1f MB/s\n", U_ICU_VERSION, static_cast<double>(bytes) / best_icu / 1e6);
  return differing == 0 ? 0 : 1;
}
