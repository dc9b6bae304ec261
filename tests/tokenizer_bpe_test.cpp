// Byte-pair merging against deliberately simple reference implementations that live only here:
// tiktoken's rule (lowest-ranked pair of concatenated bytes, leftmost first) and GPT-2's encoder.py
// (merge every occurrence of the best bigram per pass). Random vocabularies and texts, short pieces
// (fixed-array path) and long ones (heap path); every run prints its seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "test_support.hpp"
#include "tokenizer_definition.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/tokenizer.hpp"

namespace tracemark {
namespace {

using Tokens = std::map<std::string, std::uint32_t>;

// A random byte-level vocabulary over the letters a-d: all 256 bytes, then `merges` merges of
// existing tokens (only letters, so the pattern below keeps them in one piece).
struct RandomVocabulary {
  Tokens tokens;                                             // bytes -> id
  std::vector<std::pair<std::string, std::string>> merges;  // in priority order
};

RandomVocabulary random_vocabulary(std::mt19937_64& rng, int merges) {
  RandomVocabulary vocabulary;
  for (int byte = 0; byte < 256; ++byte) vocabulary.tokens.emplace(std::string(1, static_cast<char>(byte)), static_cast<std::uint32_t>(byte));
  std::vector<std::string> letters_tokens = {"a", "b", "c", "d"};
  for (int attempt = 0; static_cast<int>(vocabulary.merges.size()) < merges && attempt < merges * 20; ++attempt) {
    const std::string& left = letters_tokens[rng() % letters_tokens.size()];
    const std::string& right = letters_tokens[rng() % letters_tokens.size()];
    const std::string merged = left + right;
    if (merged.size() > 12 || vocabulary.tokens.count(merged)) continue;
    vocabulary.tokens.emplace(merged, static_cast<std::uint32_t>(vocabulary.tokens.size()));
    vocabulary.merges.emplace_back(left, right);
    letters_tokens.push_back(merged);
  }
  return vocabulary;
}

std::shared_ptr<const Tokenizer> make_tokenizer(const RandomVocabulary& vocabulary, MergeRule rule) {
  TokenizerDefinition definition;
  definition.name = "random";
  definition.pattern = "[a-d]+|[^a-d]+";
  definition.merge_rule = rule;
  for (const auto& [bytes, id] : vocabulary.tokens) definition.tokens.emplace_back(bytes, id);
  if (rule == MergeRule::merge_list) {
    for (const auto& [left, right] : vocabulary.merges) definition.merges.emplace_back(vocabulary.tokens.at(left), vocabulary.tokens.at(right));
  }
  return Tokenizer::from_definition(std::move(definition));
}

// tiktoken: a piece that is a token is that token; else merge the lowest-ranked adjacent pair
// (rank of the concatenated bytes), the leftmost on ties, until none merges.
std::vector<std::uint32_t> reference_token_ranks(const Tokens& tokens, const std::string& piece) {
  if (tokens.count(piece)) return {tokens.at(piece)};
  std::vector<std::string> parts;
  for (char c : piece) parts.emplace_back(1, c);
  for (;;) {
    std::size_t best_at = 0;
    std::uint32_t best = UINT32_MAX;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = tokens.find(parts[i] + parts[i + 1]);
      if (it != tokens.end() && it->second < best) {
        best = it->second;
        best_at = i;
      }
    }
    if (best == UINT32_MAX) break;
    parts[best_at] += parts[best_at + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }
  std::vector<std::uint32_t> ids;
  for (const auto& part : parts) ids.push_back(tokens.at(part));
  return ids;
}

// GPT-2's encoder.py bpe(): find the best-ranked bigram, merge all its occurrences left to right.
std::vector<std::uint32_t> reference_merge_list(const RandomVocabulary& vocabulary, const std::string& piece) {
  std::map<std::pair<std::string, std::string>, std::size_t> ranks;
  for (std::size_t i = 0; i < vocabulary.merges.size(); ++i) ranks.emplace(vocabulary.merges[i], i);
  std::vector<std::string> word;
  for (char c : piece) word.emplace_back(1, c);
  while (word.size() > 1) {
    std::size_t best = SIZE_MAX;
    std::pair<std::string, std::string> bigram;
    for (std::size_t i = 0; i + 1 < word.size(); ++i) {
      const auto it = ranks.find({word[i], word[i + 1]});
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        bigram = it->first;
      }
    }
    if (best == SIZE_MAX) break;
    std::vector<std::string> merged;
    for (std::size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == bigram.first && word[i + 1] == bigram.second) {
        merged.push_back(word[i] + word[i + 1]);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word = std::move(merged);
  }
  std::vector<std::uint32_t> ids;
  for (const auto& part : word) ids.push_back(vocabulary.tokens.at(part));
  return ids;
}

std::string random_piece(std::mt19937_64& rng, std::size_t length, int letters) {
  std::string piece;
  for (std::size_t i = 0; i < length; ++i) piece += static_cast<char>('a' + static_cast<int>(rng() % static_cast<unsigned>(letters)));
  return piece;
}

TEST(TokenizerBpeTest, TokenRankRuleMatchesTiktokenReferenceOnShortAndLongPieces) {
  std::mt19937_64 rng(testing::announce_seed(20260301));
  for (int vocabulary_round = 0; vocabulary_round < 20; ++vocabulary_round) {
    const RandomVocabulary vocabulary = random_vocabulary(rng, 40 + vocabulary_round * 10);
    const auto tokenizer = make_tokenizer(vocabulary, MergeRule::token_ranks);
    for (int text_round = 0; text_round < 60; ++text_round) {
      // Lengths around the 96-byte switch between the two merge paths, and well beyond it.
      const std::size_t length = 1 + rng() % (text_round % 3 == 0 ? 400 : 110);
      const std::string piece = random_piece(rng, length, 1 + static_cast<int>(rng() % 4));
      ASSERT_EQ(tokenizer->encode(piece), reference_token_ranks(vocabulary.tokens, piece)) << "piece " << piece;
    }
  }
}

TEST(TokenizerBpeTest, MergeListRuleMatchesGpt2EncoderReferenceOnShortAndLongPieces) {
  std::mt19937_64 rng(testing::announce_seed(20260302));
  for (int vocabulary_round = 0; vocabulary_round < 20; ++vocabulary_round) {
    const RandomVocabulary vocabulary = random_vocabulary(rng, 40 + vocabulary_round * 10);
    const auto tokenizer = make_tokenizer(vocabulary, MergeRule::merge_list);
    for (int text_round = 0; text_round < 60; ++text_round) {
      const std::size_t length = 1 + rng() % (text_round % 3 == 0 ? 400 : 110);
      const std::string piece = random_piece(rng, length, 1 + static_cast<int>(rng() % 4));
      ASSERT_EQ(tokenizer->encode(piece), reference_merge_list(vocabulary, piece)) << "piece " << piece;
    }
    // Each token's own bytes: the whole-piece shortcut must not change what the merges give.
    for (const auto& [bytes, id] : vocabulary.tokens) {
      if (bytes.size() > 1) {
        ASSERT_EQ(tokenizer->encode(bytes), reference_merge_list(vocabulary, bytes)) << "token " << bytes;
      }
    }
  }
}

TEST(TokenizerBpeTest, DecodeInvertsEncodeAcrossPieces) {
  std::mt19937_64 rng(testing::announce_seed(20260303));
  const RandomVocabulary vocabulary = random_vocabulary(rng, 200);
  const auto tokenizer = make_tokenizer(vocabulary, MergeRule::token_ranks);
  for (int round = 0; round < 200; ++round) {
    std::string text;
    for (std::size_t i = 0, n = rng() % 300; i < n; ++i) text += static_cast<char>(rng() % 2 ? 'a' + static_cast<int>(rng() % 4) : ' ');
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text)), text);
  }
}

TEST(TokenizerBpeTest, RejectsVocabulariesThatCannotEncodeEveryByte) {
  TokenizerDefinition definition;
  definition.name = "broken";
  definition.pattern = "[a-d]+";
  definition.tokens = {{"a", 0}, {"b", 1}};
  try {
    Tokenizer::from_definition(definition);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("no token for the single byte 0x00"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tracemark
