#include "tracemark/embed/green_list_scheme.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "scheme_test_support.hpp"
#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

using testing::expect_green_fraction_is_gamma;
using testing::golden_key;
using testing::params_with;

TEST(GreenListScheme, MatchesGoldenSeedsAndGreenValues) {
  const nlohmann::json golden = testing::load_golden("kgw_v1_vectors.json");
  const GreenListScheme scheme(golden_key(params_with(0.25, 2.0, 2, 50257)));
  EXPECT_EQ(scheme.threshold(), 1073741824u);
  for (const auto& entry : golden["contexts"]) {
    const std::vector<std::uint32_t> context = entry["context"].get<std::vector<std::uint32_t>>();
    const std::uint64_t seed = scheme.context_seed(context);
    EXPECT_EQ(seed, std::stoull(entry["seed"].get<std::string>(), nullptr, 16));
    for (const auto& token : entry["tokens"]) {
      const auto id = token[0].get<std::uint32_t>();
      EXPECT_EQ(GreenListScheme::green_value(seed, id), std::stoul(token[1].get<std::string>(), nullptr, 16));
      EXPECT_EQ(scheme.is_green(seed, id), token[2].get<bool>()) << "token " << id;
    }
  }
}

TEST(GreenListScheme, NullProbabilityIsTheExactThresholdFraction) {
  const GreenListScheme scheme(golden_key(params_with(0.3, 2.0, 1, 1000)));
  EXPECT_EQ(scheme.threshold(), static_cast<std::uint32_t>(std::llround(0.3 * 4294967296.0)));
  EXPECT_DOUBLE_EQ(scheme.null_green_probability(), scheme.threshold() / 4294967296.0);
  EXPECT_NEAR(scheme.null_green_probability(), 0.3, 1e-9);
}

TEST(GreenListScheme, GreenFractionOfTheVocabularyIsGamma) {
  // Over 200 contexts x 50257 tokens (10M decisions) the green fraction must be within 6 standard
  // deviations of gamma; per context it must look binomial too.
  for (double gamma : {0.1, 0.25, 0.5}) {
    expect_green_fraction_is_gamma(GreenListScheme(golden_key(params_with(gamma, 2.0, 1, 50257))), gamma);
  }
}

TEST(GreenListScheme, DifferentKeysAndContextsGiveUnrelatedGreenLists) {
  SchemeParams params = params_with(0.25, 2.0, 1, 20000);
  const GreenListScheme first(WatermarkKey::generate(params));
  const GreenListScheme second(WatermarkKey::generate(params));
  const std::uint32_t context_a[] = {42};
  const std::uint32_t context_b[] = {43};
  std::uint32_t both_keys = 0, both_contexts = 0;
  for (std::uint32_t t = 0; t < 20000; ++t) {
    both_keys += first.is_green(first.context_seed(context_a), t) && second.is_green(second.context_seed(context_a), t);
    both_contexts += first.is_green(first.context_seed(context_a), t) && first.is_green(first.context_seed(context_b), t);
  }
  // Independent lists overlap on gamma^2 = 6.25% of the vocabulary (sd about 0.17%).
  EXPECT_NEAR(both_keys / 20000.0, 0.0625, 0.01);
  EXPECT_NEAR(both_contexts / 20000.0, 0.0625, 0.01);
}

TEST(GreenListScheme, FullVocabularyBiasMatchesTheReferenceDefinition) {
  // The vectorised path against the one-token-at-a-time definition, for sizes that exercise the
  // vector tail (not multiples of 8 or 16).
  const GreenListScheme scheme(golden_key(params_with(0.25, 2.5, 2, 50257)));
  for (std::size_t size : {1u, 7u, 17u, 1003u, 50257u}) {
    const std::uint32_t context[] = {static_cast<std::uint32_t>(size), 5};
    const std::uint64_t seed = scheme.context_seed(context);
    std::vector<float> logits(size);
    for (std::size_t i = 0; i < size; ++i) logits[i] = static_cast<float>(i % 13) * 0.25f - 1.0f;
    const std::vector<float> original = logits;
    scheme.bias_logits(seed, logits);
    for (std::size_t i = 0; i < size; ++i) {
      const float expected = original[i] + (scheme.is_green(seed, static_cast<std::uint32_t>(i)) ? 2.5f : 0.0f);
      ASSERT_EQ(logits[i], expected) << "index " << i << " of " << size;
    }
  }
}

TEST(GreenListScheme, CandidateBiasMatchesFullVocabularyInAnyOrder) {
  const GreenListScheme scheme(golden_key(params_with(0.25, 2.0, 2, 50257)));
  const std::uint32_t context[] = {11, 12};
  const std::uint64_t seed = scheme.context_seed(context);
  std::vector<float> full(50257, 0.0f);
  scheme.bias_logits(seed, full);
  std::mt19937 rng(testing::announce_seed(7));
  std::vector<Candidate> candidates;
  for (int i = 0; i < 40; ++i) {
    candidates.push_back({static_cast<std::uint32_t>(rng() % 50257), static_cast<float>(i)});
  }
  std::vector<Candidate> biased = candidates;
  scheme.bias_candidates(seed, biased);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    EXPECT_EQ(biased[i].id, candidates[i].id);
    EXPECT_EQ(biased[i].logit, candidates[i].logit + full[candidates[i].id]);
  }
  std::vector<Candidate> outside = {{50257, 0.0f}};
  EXPECT_THROW(scheme.bias_candidates(seed, outside), Error);
}

}  // namespace
}  // namespace tracemark
