#include "tracemark/verify/distillation_scan.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tracemark/refmodel/synthetic_model.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using testing::params_with;

struct ScanKey {
  WatermarkKey key;
  std::shared_ptr<const GreenListScheme> scheme;
};

ScanKey fresh_key(std::uint32_t width, std::uint32_t vocab) {
  WatermarkKey key = WatermarkKey::generate(params_with(0.25, 2.0, width, vocab));
  auto scheme = std::make_shared<const GreenListScheme>(key);
  return {key, scheme};
}

// A key whose secret comes from `seed`: a test that checks an innocent key's p-value against a fixed
// threshold must not fail by chance on a fresh key (about 1 run in 300 did).
ScanKey seeded_key(std::uint32_t width, std::uint32_t vocab, std::uint64_t seed) {
  SplitMix64 bytes(seed);
  SecretBytes secret{};
  for (std::uint8_t& byte : secret) byte = static_cast<std::uint8_t>(bytes.next());
  WatermarkKey key = WatermarkKey::from_secret(secret, params_with(0.25, 2.0, width, vocab), "2026-01-01T00:00:00Z");
  auto scheme = std::make_shared<const GreenListScheme>(key);
  return {key, scheme};
}

std::vector<std::vector<std::uint32_t>> generate_responses(const SyntheticModel& model, SplitMix64& rng, int count,
                                                           std::size_t length,
                                                           const std::shared_ptr<const GreenListScheme>& scheme) {
  std::vector<std::vector<std::uint32_t>> responses;
  for (int i = 0; i < count; ++i) {
    if (scheme) {
      WatermarkProcessor processor(scheme);
      responses.push_back(model.generate(length, rng, &processor));
    } else {
      responses.push_back(model.generate(length, rng, nullptr));
    }
  }
  return responses;
}

TEST(DistillationScan, CountsEveryDroppedTokenByRule) {
  ScanKey k = fresh_key(1, 100);
  auto filter = std::make_shared<ReferenceContexts>(1);
  const std::vector<std::uint32_t> log_response = {1, 2, 3, 4, 5};
  filter->add_response(log_response);  // contexts {1},{2},{3},{4}
  DistillationScan scan({{k.key.key_id(), k.scheme, filter}});
  const std::vector<std::uint32_t> prompt = {2, 3};
  const std::vector<std::uint32_t> response = {1, 2, 3, 9, 1, 2, 7, 8};
  scan.add_response(response, prompt);
  scan.add_response(response, {});
  const KeyScanResult result = scan.results({}).front();
  const ScanCounts& c = result.counts;
  EXPECT_EQ(c.responses, 2u);
  EXPECT_EQ(c.tokens, 16u);
  EXPECT_EQ(c.skipped_prefix, 2u);
  // First response: (1,2) ok, (2,3) in prompt, (3,9) ok, (9,1) filtered, (1,2) repeated, (2,7) ok,
  // (7,8) filtered. Second (no prompt): (1,2) repeated, (2,3) scored now (the prompt rule applied
  // only to the first response), (3,9) repeated, (9,1) filtered, (1,2) repeated, (2,7) repeated,
  // (7,8) filtered.
  EXPECT_EQ(c.skipped_prompt_window, 1u);
  EXPECT_EQ(c.skipped_filter, 4u);
  EXPECT_EQ(c.scored, 4u);
  EXPECT_EQ(c.skipped_repeated_tuple, 5u);
  EXPECT_EQ(c.tokens, c.skipped_prefix + c.skipped_prompt_window + c.skipped_filter + c.skipped_repeated_tuple + c.scored);
}

TEST(DistillationScan, RejectsIdsOutsideTheVocabulary) {
  ScanKey k = fresh_key(1, 100);
  DistillationScan scan({{k.key.key_id(), k.scheme, nullptr}});
  const std::vector<std::uint32_t> response = {1, 2, 300};
  EXPECT_THROW(scan.add_response(response, {}), Error);
}

TEST(DistillationScan, ReferenceFilterStaysValidForAnInnocentModelThatAgreesWithTheTeacher) {
  // The hardest null for the filter: the suspect is the teacher's own base model WITHOUT the
  // watermark, so it often makes the same choices; the filter keeps the contexts of the teacher's
  // watermarked log. 100 fresh keys: p < 0.01 at most 5 times (P(X >= 6) < 0.0006 for
  // X ~ Binomial(100, 0.01)), and the pooled green rate stays at gamma.
  // A small vocabulary keeps generation cheap and makes the suspect share many of the teacher's
  // contexts (so the filter keeps many tuples).
  const SyntheticModel model({300, 2.0, 17});
  SplitMix64 rng(testing::announce_seed(314159));
  int flagged = 0;
  std::uint64_t green = 0, scored = 0;
  for (int trial = 0; trial < 100; ++trial) {
    ScanKey k = fresh_key(2, 300);
    auto filter = std::make_shared<ReferenceContexts>(2);
    for (const auto& response : generate_responses(model, rng, 20, 100, k.scheme)) filter->add_response(response);
    filter->keep_most_frequent(500);
    DistillationScan scan({{k.key.key_id(), k.scheme, filter}});
    for (const auto& response : generate_responses(model, rng, 20, 100, nullptr)) scan.add_response(response, {});
    const KeyScanResult result = scan.results({}).front();
    flagged += result.test.p_value < 0.01;
    green += result.counts.green;
    scored += result.counts.scored;
  }
  const double rate = static_cast<double>(green) / static_cast<double>(scored);
  std::cout << "flagged " << flagged << " of 100; pooled green rate " << rate << " over " << scored << " tuples\n";
  EXPECT_LE(flagged, 5);
  EXPECT_NEAR(rate, 0.25, 4 * std::sqrt(0.25 * 0.75 / static_cast<double>(scored)) + 0.002);
}

TEST(DistillationScan, DetectsWatermarkedTextAndCorrectsForEveryKeyTried) {
  const SyntheticModel model({2000, 2.0, 5});
  SplitMix64 rng(testing::announce_seed(2718));
  ScanKey ours = seeded_key(2, 2000, 1);
  ScanKey other_a = seeded_key(2, 2000, 2);
  ScanKey other_b = seeded_key(1, 2000, 3);
  DistillationScan scan({{"ours", ours.scheme, nullptr}, {"a", other_a.scheme, nullptr}, {"b", other_b.scheme, nullptr}});
  for (const auto& response : generate_responses(model, rng, 20, 100, ours.scheme)) scan.add_response(response, {});
  const std::vector<KeyScanResult> results = scan.results({});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_LT(results[0].test.log10_p, -20);
  // Holm: the smallest p is multiplied by the number of keys tried.
  EXPECT_NEAR(results[0].holm_log10_p, results[0].test.log10_p + std::log10(3.0), 1e-9);
  EXPECT_GT(results[0].effect_interval.lower, 0.0);
  EXPECT_LT(results[0].effect_interval.lower, results[0].effect);
  EXPECT_GT(results[0].effect_interval.upper, results[0].effect);
  ASSERT_TRUE(results[0].further_tokens_needed.has_value());
  EXPECT_EQ(*results[0].further_tokens_needed, 0u);  // already far past p < 1e-6
  EXPECT_GT(results[1].holm_log10_p, -2.0);
  EXPECT_GT(results[2].holm_log10_p, -2.0);
}

TEST(DistillationScan, ReportsHowMuchMoreTextAWeakEffectNeeds) {
  // A suspect whose green rate is barely above chance: not significant yet, and the scan says how
  // many more tokens would make an effect of this size significant at 1e-6.
  ScanKey k = fresh_key(1, 50000);
  DistillationScan scan({{k.key.key_id(), k.scheme, nullptr}});
  SplitMix64 rng(testing::announce_seed(1618));
  // 400 tokens, 30% of them green by construction (every step's colour is chosen, so the green
  // rate does not depend on the fresh key: a rate drawn at random made this test fail now and then).
  std::vector<std::uint32_t> response = {1};
  while (response.size() < 400) {
    const std::uint32_t context[] = {response.back()};
    const std::uint64_t seed = k.scheme->context_seed(context);
    const bool want_green = response.size() % 10 < 3;
    std::uint32_t token = static_cast<std::uint32_t>(rng.next() % 50000);
    while (k.scheme->is_green(seed, token) != want_green) token = static_cast<std::uint32_t>(rng.next() % 50000);
    response.push_back(token);
  }
  scan.add_response(response, {});
  const KeyScanResult result = scan.results({}).front();
  std::cout << "green rate " << result.green_rate << ", log10 p " << result.test.log10_p << "\n";
  if (result.green_rate > 0.25 && result.test.log10_p > -6) {
    ASSERT_TRUE(result.further_tokens_needed.has_value());
    EXPECT_GT(*result.further_tokens_needed, 0u);
    const auto tuples = tuples_needed_for(result.green_rate, 0.25, 1e-6);
    ASSERT_TRUE(tuples.has_value());
    EXPECT_NEAR(static_cast<double>(*result.further_tokens_needed),
                static_cast<double>(*tuples - result.counts.scored) * 400.0 / static_cast<double>(result.counts.scored), 2.0);
  } else {
    FAIL() << "the constructed suspect should have a weak positive effect";
  }
}

}  // namespace
}  // namespace tracemark
