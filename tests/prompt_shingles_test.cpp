// Prompt shingles, MinHash and LSH banding: word normalisation, the kept quarter, Jaccard estimates
// against exact Jaccard on random sets, and band collisions as the banding formula predicts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "tracemark/campaigns/prompt_shingles.hpp"

namespace tracemark::campaigns {
namespace {

std::vector<std::uint64_t> shingles_of(std::string_view text) {
  std::vector<std::uint64_t> out;
  prompt_shingles(text, out);
  return out;
}

// A word made of letters only (digits would all read as 0).
std::string letters(int n) {
  std::string word = "w";
  for (n = n * 7919 % 100003 + 1; n > 0; n /= 26) word.push_back(static_cast<char>('a' + n % 26));
  return word;
}

// A long text of distinct words, so it has many shingles.
std::string words(int from, int count) {
  std::string text;
  for (int i = from; i < from + count; ++i) text += letters(i) + " ";
  return text;
}

TEST(PromptShingles, CaseDigitsAndPunctuationDoNotMatter) {
  const std::string text = words(0, 400);
  std::string shouted = text;
  for (char& c : shouted) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(shingles_of(text), shingles_of(shouted));
  std::string punctuated;
  for (const char c : text) punctuated += c == ' ' ? std::string(" ,; ") : std::string(1, c);
  EXPECT_EQ(shingles_of(text), shingles_of(punctuated));
  // Every digit reads as 0: slot-filled numbers do not change a template's shingles.
  EXPECT_EQ(shingles_of("order 12345 shipped to warehouse 7 on monday morning early"),
            shingles_of("order 99999 shipped to warehouse 3 on monday morning early"));
  EXPECT_NE(shingles_of(text), shingles_of(words(1000, 400)));
}

TEST(PromptShingles, OrderMattersAndShortPromptsHaveNone) {
  EXPECT_TRUE(shingles_of("one two three").empty());
  EXPECT_TRUE(shingles_of("").empty());
  std::vector<std::uint64_t> forward = shingles_of(words(0, 400)), backward;
  std::string reversed;
  for (int i = 399; i >= 0; --i) reversed += letters(i) + " ";
  backward = shingles_of(reversed);
  std::vector<std::uint64_t> common;
  std::set_intersection(forward.begin(), forward.end(), backward.begin(), backward.end(), std::back_inserter(common));
  EXPECT_TRUE(common.empty());
}

TEST(PromptShingles, KeepsAboutAQuarterSortedAndDistinct) {
  const std::string text = words(0, 1803);  // 1,800 four-word windows, under the 16 kB read
  ASSERT_LT(text.size(), 16u * 1024);
  const auto kept = shingles_of(text);
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  EXPECT_EQ(std::adjacent_find(kept.begin(), kept.end()), kept.end());
  EXPECT_NEAR(static_cast<double>(kept.size()) / 1800.0, 0.25, 0.04) << kept.size();
  // Only the first 16 kB are read.
  EXPECT_EQ(shingles_of(text + std::string(20000, ' ') + words(5000, 1000)), kept);
  // A repeated phrase gives each of its shingles once.
  const std::string phrase = words(0, 40);
  EXPECT_EQ(shingles_of(phrase + phrase + phrase).size(), shingles_of(phrase + phrase).size());
}

TEST(MinHash, EstimatesJaccardOfRandomSets) {
  std::mt19937_64 random(20260302);  // seed printed by being fixed here
  double total_error = 0;
  const int trials = 200;
  for (int t = 0; t < trials; ++t) {
    const int shared = 20 + static_cast<int>(random() % 200), only_a = static_cast<int>(random() % 200),
              only_b = static_cast<int>(random() % 200);
    std::vector<std::uint64_t> a, b;
    for (int i = 0; i < shared; ++i) {
      const std::uint64_t v = random();
      a.push_back(v);
      b.push_back(v);
    }
    for (int i = 0; i < only_a; ++i) a.push_back(random());
    for (int i = 0; i < only_b; ++i) b.push_back(random());
    const double exact = static_cast<double>(shared) / (shared + only_a + only_b);
    const double estimate = estimated_jaccard(minhash_signature(a), minhash_signature(b));
    // 32 positions: standard error sqrt(J (1 - J) / 32) <= 0.09.
    EXPECT_LT(std::abs(estimate - exact), 0.36) << "trial " << t;
    total_error += estimate - exact;
  }
  EXPECT_LT(std::abs(total_error / trials), 0.03);  // unbiased on average
  const std::vector<std::uint64_t> same = {1, 2, 3, 4, 5}, shuffled = {5, 4, 3, 2, 1, 1};
  EXPECT_EQ(estimated_jaccard(minhash_signature(same), minhash_signature(shuffled)), 1.0);
}

TEST(MinHash, BandsCollideAsTheBandingFormulaSays) {
  // For Jaccard J, P(some band agrees) = 1 - (1 - J^4)^8: about 0.04 at 0.2, 0.4 at 0.45, 0.99 at 0.8.
  std::mt19937_64 random(7);
  const auto collision_rate = [&](int shared, int apart) {
    int collided = 0;
    for (int t = 0; t < 400; ++t) {
      std::vector<std::uint64_t> a, b;
      for (int i = 0; i < shared; ++i) {
        const std::uint64_t v = random();
        a.push_back(v);
        b.push_back(v);
      }
      for (int i = 0; i < apart; ++i) a.push_back(random()), b.push_back(random());
      const auto ka = lsh_band_keys(minhash_signature(a)), kb = lsh_band_keys(minhash_signature(b));
      bool any = false;
      for (std::size_t k = 0; k < kMinHashBands; ++k) any = any || ka[k] == kb[k];
      collided += any;
    }
    return collided / 400.0;
  };
  EXPECT_LT(collision_rate(20, 40), 0.12);    // J = 0.2
  EXPECT_GT(collision_rate(160, 20), 0.95);   // J = 0.8
  const double middle = collision_rate(90, 55);  // J = 0.45: 0.31
  EXPECT_GT(middle, 0.18);
  EXPECT_LT(middle, 0.48);
}

}  // namespace
}  // namespace tracemark::campaigns
