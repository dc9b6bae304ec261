// Text handling around the merges: UTF-8 errors and lossy repair, special tokens, normalisation,
// vocabulary sizes, pattern dialects, thread safety. Uses the cache that corpora/fetch.sh fills.
#include <gtest/gtest.h>

#include <thread>

#include "byte_pair_encoder.hpp"
#include "pretokenizer.hpp"
#include "tokenizer_loaders.hpp"
#include "tokenizer_test_support.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark {
namespace {

std::vector<std::uint32_t> concat(std::initializer_list<std::vector<std::uint32_t>> parts) {
  std::vector<std::uint32_t> all;
  for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
  return all;
}

TEST(TokenizerTextTest, InvalidUtf8IsAnErrorNamingTheByteOffset) {
  const auto tokenizer = Tokenizer::load("cl100k_base");
  const std::pair<std::string, std::size_t> cases[] = {
      {"abc\xff", 3},             // a byte that never occurs in UTF-8
      {"ab\xc3", 2},              // truncated sequence at the end
      {"a\xed\xa0\x80z", 1},      // a surrogate
      {"xy\xc0\xafz", 2},         // an overlong "/"
      {"\xf4\x90\x80\x80", 0},    // above U+10FFFF
      {"ok \xe2\x82 ok", 3},      // truncated inside the text
      {std::string(1000, 'a') + "\x80", 1000},  // after the ASCII fast path
  };
  for (const auto& [text, offset] : cases) {
    try {
      tokenizer->encode(text);
      ADD_FAILURE() << "no error for offset " << offset;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find("invalid UTF-8 at byte offset " + std::to_string(offset) + " "), std::string::npos) << e.what();
    }
    EXPECT_EQ(find_invalid_utf8(text), offset);
  }
}

TEST(TokenizerTextTest, LossyEncodingReplacesMaximalSubpartsAndCountsThem) {
  const auto tokenizer = Tokenizer::load("o200k_base");
  const std::string replacement = "\xEF\xBF\xBD";
  // Unicode's recommended practice: a truncated sequence is one U+FFFD; bytes that cannot start or
  // continue anything (here each byte of a surrogate) are one U+FFFD each.
  const std::tuple<std::string, std::string, std::uint64_t> cases[] = {
      {"a\xffz", "a" + replacement + "z", 1},
      {"ok \xe2\x82 ok", "ok " + replacement + " ok", 1},
      {"\xed\xa0\x80", replacement + replacement + replacement, 3},
      {"valid é", "valid é", 0},
  };
  for (const auto& [bytes, repaired, count] : cases) {
    const LossyEncoding result = tokenizer->encode_lossy(bytes);
    EXPECT_EQ(result.replacements, count);
    EXPECT_EQ(result.ids, tokenizer->encode(repaired));
    EXPECT_EQ(tokenizer->decode(result.ids), repaired);
  }
}

TEST(TokenizerTextTest, SpecialTokensOnlyWhenAskedFor) {
  const auto tokenizer = Tokenizer::load("cl100k_base");
  const std::string text = "a<|endoftext|>b<|fim_prefix|><|endofprompt|>";
  const std::vector<std::uint32_t> ordinary = tokenizer->encode(text);
  for (const std::uint32_t id : ordinary) EXPECT_LT(id, 100256u);
  EXPECT_EQ(tokenizer->decode(ordinary), text);
  EXPECT_EQ(tokenizer->encode(text, {true}), concat({tokenizer->encode("a"), {100257}, tokenizer->encode("b"), {100258, 100276}}));
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, {true})), text);
  // claude's special tokens are ids 0..4; @anthropic-ai/tokenizer encodes with "all" allowed.
  const auto claude = Tokenizer::load("claude");
  EXPECT_EQ(claude->encode("<EOT>", {true}), std::vector<std::uint32_t>{0});
  EXPECT_NE(claude->encode("<EOT>"), std::vector<std::uint32_t>{0});
}

TEST(TokenizerTextTest, ClaudeNormalisesWithNfkcOthersDoNot) {
  const auto claude = Tokenizer::load("claude");
  EXPECT_EQ(claude->encode("ﬁnance Ⅻ ｈｅｌｌｏ"), claude->encode("finance XII hello"));
  const auto cl100k = Tokenizer::load("cl100k_base");
  EXPECT_NE(cl100k->encode("ﬁnance"), cl100k->encode("finance"));
  EXPECT_EQ(cl100k->decode(cl100k->encode("ﬁnance")), "ﬁnance");
}

TEST(TokenizerTextTest, VocabularySizesAndNames) {
  const std::pair<std::string, std::uint32_t> expected[] = {
      {"cl100k_base", 100277}, {"o200k_base", 200019}, {"claude", 65000}, {"gpt2", 50257}};
  for (const auto& [name, size] : expected) {
    const auto tokenizer = Tokenizer::load(name);
    EXPECT_EQ(tokenizer->name(), name);
    EXPECT_EQ(tokenizer->vocab_size(), size) << name;
  }
}

TEST(TokenizerTextTest, DecodeRefusesUnknownIds) {
  const auto tokenizer = Tokenizer::load("gpt2");
  const std::uint32_t ids[] = {31373, 50257};
  try {
    tokenizer->decode(ids);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("id 50257 at position 1"), std::string::npos) << e.what();
  }
}

TEST(TokenizerTextTest, PatternDialectsSpellWhitespaceAsTheirEnginesDo) {
  EXPECT_EQ(translate_pattern(R"(\s+(?!\S)|[^\s\p{L}])", PatternDialect::rust_regex, "t"),
            R"([\t-\r\x{85}\p{Z}]+(?![^\t-\r\x{85}\p{Z}])|[^\t-\r\x{85}\p{Z}\p{L}])");
  EXPECT_EQ(translate_pattern(R"(\s|\d|.)", PatternDialect::ecmascript, "t"),
            R"([\t-\r\x{feff}\p{Z}]|[0-9]|[^\n\r\x{2028}\x{2029}])");
  EXPECT_EQ(translate_pattern(R"([.\]\s]\\s)", PatternDialect::oniguruma, "t"), R"([.\]\t-\r\x{85}\p{Z}]\\s)");
  EXPECT_THROW(translate_pattern(R"(\w+)", PatternDialect::rust_regex, "t"), Error);
  EXPECT_THROW(translate_pattern(R"([\S])", PatternDialect::rust_regex, "t"), Error);
  // Whether U+0085 and U+FEFF are whitespace differs between tiktoken and gpt-3-encoder; the
  // torture file of the parity tests holds both in several positions.
}

TEST(TokenizerTextTest, ConcurrentEncodingGivesTheSameIds) {
  const auto tokenizer = Tokenizer::load("o200k_base");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "Sentence " + std::to_string(i) + " with naïve café and 漢字, plus  spaces\n";
  const std::vector<std::uint32_t> expected = tokenizer->encode(text);
  std::vector<std::vector<std::uint32_t>> results(4);
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < results.size(); ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 20; ++round) results[t] = tokenizer->encode(text);
      });
    }
  }
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

TEST(TokenizerTextTest, LongRunsOfOneClassWork) {
  const auto tokenizer = Tokenizer::load("cl100k_base");
  for (const std::string& text : {std::string(300000, ' ') + "x", std::string(300000, 'a'), std::string(100000, '\n')}) {
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
  }
}

// The retry with generous limits (taken when a match hits PCRE2's defaults, which real text under JIT
// does not reach even for megabyte runs) gives the same pieces: forced on every match with a match
// limit of 1, the pieces, merged by the tokenizer's own encoder, equal npm tiktoken's ids.
TEST(TokenizerTextTest, RetriedMatchesGiveTheReferenceIds) {
  const std::filesystem::path encoders = testing::tokenizer_cache() / "npm" / "tiktoken@1.0.22" / "package" / "encoders";
  for (const std::string name : {"cl100k_base", "o200k_base"}) {
    const TokenizerDefinition definition =
        load_tiktoken_json(testing::read_binary(encoders / (name + ".json")), name);
    const Pretokenizer forced(definition.pattern, definition.dialect, definition.unmatched, name, 1);
    const BytePairEncoder encoder(definition, name);
    std::size_t texts = 0, retried = 0;
    for (const std::string corpus : {"torture", "nlp-corpus"}) {
      const std::vector<testing::ParityText> parity = testing::parity_texts(corpus);
      const std::vector<std::vector<std::uint32_t>> expected = testing::parity_ids(name, corpus);
      ASSERT_EQ(parity.size(), expected.size());
      for (std::size_t t = 0; t < parity.size() && t < 400; ++t) {
        Pretokenizer::Pieces pieces(forced, parity[t].text);
        std::vector<std::uint32_t> ids;
        std::string_view piece;
        while (pieces.next(piece)) encoder.encode_piece(piece, ids);
        EXPECT_EQ(ids, expected[t]) << name << " " << parity[t].id;
        if (ids.empty()) continue;  // an empty text needs no match
        ++texts;
        retried += pieces.retried_with_larger_limits();
      }
    }
    EXPECT_GT(texts, 400u);
    EXPECT_EQ(retried, texts) << name << ": every text should have gone through the retry";
  }
}

}  // namespace
}  // namespace tracemark
