// The entropy-weighted Gumbel-max test (issue 18): the Chernoff bound on sum w_i Exp(1) is never
// below the exact tail where the exact tail is known (equal weights: Gamma), stays within the
// sqrt(2 pi n) factor of it, is valid under simulation with uneven weights and with fresh keys on
// null text, and beats the unweighted test on text whose low-entropy steps carry no signal.
#include "tracemark/verify/weighted_exponential_tail.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "tracemark/embed/gumbel_max_sampler.hpp"
#include "tracemark/embed/step_entropy.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/gamma_tail.hpp"
#include "tracemark/verify/gumbel_max_detector.hpp"

namespace tracemark {
namespace {

using testing::gumbel_params;


TEST(WeightedExponentialTail, BoundsTheExactGammaTailWithEqualWeights) {
  for (std::uint64_t n : {1ull, 10ull, 1000ull, 100000ull}) {
    for (double excess : {0.5, 2.0, 5.0, 20.0}) {  // score = n + excess * sqrt(n)
      const double score = static_cast<double>(n) + excess * std::sqrt(static_cast<double>(n));
      for (float weight : {1.0f, 2.5f}) {
        const std::vector<float> weights(n, weight);
        const WeightedExponentialTest bound = weighted_exponential_test(weights, static_cast<double>(weight) * score);
        const GammaTest exact = gamma_test(score, n);
        EXPECT_GE(bound.log_p, exact.log_p - 1e-9 * std::abs(exact.log_p)) << "n " << n << " excess " << excess;
        // Tight to within the known factor, sqrt(2 pi / n) (s - n + 1) (asymptotic in z; the slack covers z < 1).
        const double factor = std::sqrt(2 * std::numbers::pi / static_cast<double>(n)) * (score - static_cast<double>(n) + 1);
        EXPECT_LE(bound.log_p - exact.log_p, std::log(std::max(factor, 1.0)) + 1.2)
            << "n " << n << " excess " << excess;
        EXPECT_NEAR(bound.weight_sum, static_cast<double>(n) * static_cast<double>(weight), 1e-6 * static_cast<double>(n));
      }
    }
  }
}

TEST(WeightedExponentialTail, EdgeCasesAndRefusals) {
  const std::vector<float> weights = {1.0f, 0.0f, 2.0f};
  EXPECT_EQ(weighted_exponential_test(weights, 2.9).log_p, 0.0) << "at or below the null mean: p = 1";
  EXPECT_EQ(weighted_exponential_test(std::vector<float>(4, 0.0f), 10.0).log_p, 0.0) << "no weight: no evidence";
  EXPECT_EQ(weighted_exponential_test({}, 0.0).log_p, 0.0);
  EXPECT_LT(weighted_exponential_test(weights, 30.0).log10_p, -4.0);
  EXPECT_THROW(weighted_exponential_test(std::vector<float>{1.0f, -0.5f}, 3.0), Error);
  EXPECT_THROW(weighted_exponential_test(std::vector<float>{1.0f, NAN}, 3.0), Error);
  EXPECT_THROW(weighted_exponential_test(weights, -1.0), Error);
}

TEST(WeightedExponentialTail, IsValidUnderSimulationWithUnevenWeights) {
  std::mt19937_64 random(testing::announce_seed(20261203));
  std::exponential_distribution<double> exponential(1.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<float> weights(300);
  for (float& weight : weights) weight = static_cast<float>(unit(random) < 0.5 ? 0.02 * unit(random) : 4.0 * unit(random));
  const int trials = 20000;
  int under_05 = 0, under_01 = 0;
  for (int trial = 0; trial < trials; ++trial) {
    double score = 0;
    for (float weight : weights) score += static_cast<double>(weight) * exponential(random);
    const double p = weighted_exponential_test(weights, score).p_value;
    under_05 += p < 0.05;
    under_01 += p < 0.01;
  }
  // Valid: at most the nominal rate (plus 4 binomial sd of simulation noise). Conservative, so
  // well under it is expected.
  EXPECT_LE(under_05, trials * 0.05 + 4 * std::sqrt(trials * 0.05 * 0.95));
  EXPECT_LE(under_01, trials * 0.01 + 4 * std::sqrt(trials * 0.01 * 0.99));
}

// Steps alternate between a near-deterministic distribution (one token holds all but 1e-4 of the
// mass: the chosen token is almost always that one, its score is noise) and a flat one over 64
// tokens. Returns the tokens and each step's entropy.
std::pair<std::vector<std::uint32_t>, std::vector<float>> mixed_entropy_text(GumbelMaxSampler* sampler,
                                                                            std::mt19937_64& random, std::size_t length,
                                                                            std::uint32_t vocab) {
  std::vector<std::uint32_t> tokens = {1, 2};
  std::vector<float> entropy = {0.0f, 0.0f};
  std::vector<float> logits(vocab);
  std::uniform_int_distribution<std::uint32_t> pick(0, vocab - 1);
  if (sampler) sampler->reset(std::span<const std::uint32_t>(tokens), random());
  std::mt19937_64 own(random());
  for (std::size_t i = 2; i < length; ++i) {
    const bool flat = i % 4 == 0;  // a quarter of the steps carry entropy
    const std::uint32_t peak = pick(random);
    for (std::uint32_t t = 0; t < vocab; ++t) {
      logits[t] = flat ? (t % (vocab / 64) == 0 ? 0.0f : -INFINITY) : (t == peak ? 0.0f : -9.2f - std::log(float(vocab)));
    }
    entropy.push_back(static_cast<float>(logits_entropy(logits)));
    std::uint32_t token;
    if (sampler) {
      token = sampler->choose(std::span<const float>(logits));
      sampler->accept(token);
    } else {  // null text: an exact draw without the key
      std::vector<double> w(vocab);
      for (std::uint32_t t = 0; t < vocab; ++t) w[t] = std::exp(static_cast<double>(logits[t]));
      token = static_cast<std::uint32_t>(std::discrete_distribution<std::uint32_t>(w.begin(), w.end())(own));
    }
    tokens.push_back(token);
  }
  return {tokens, entropy};
}

TEST(WeightedExponentialTail, WeightingFindsMixedEntropyTextSoonerAndStaysValidWithFreshKeys) {
  constexpr std::uint32_t kVocab = 4096;
  std::mt19937_64 random(testing::announce_seed(77));
  auto scheme = std::make_shared<const GumbelMaxScheme>(WatermarkKey::generate(gumbel_params(3, kVocab)));
  GumbelMaxSampler sampler(scheme);
  GumbelMaxDetector detector(scheme);
  const auto [tokens, entropy] = mixed_entropy_text(&sampler, random, 400, kVocab);
  const GumbelScoreCounts counts = detector.add_document(tokens, entropy);
  const double weighted = GumbelMaxDetector::weighted_test(counts).log10_p;
  const double plain = GumbelMaxDetector::test(counts).log10_p;
  EXPECT_LT(weighted, plain - 1.0) << "weighted " << weighted << ", unweighted " << plain;
  EXPECT_LT(weighted, -6.0);
  // Null text with the same entropy profile, scored with 300 fresh keys.
  int under_05 = 0;
  const int keys = 300;
  const auto [null_tokens, null_entropy] = mixed_entropy_text(nullptr, random, 400, kVocab);
  for (int k = 0; k < keys; ++k) {
    GumbelMaxDetector fresh(std::make_shared<const GumbelMaxScheme>(WatermarkKey::generate(gumbel_params(3, kVocab))));
    under_05 += GumbelMaxDetector::weighted_test(fresh.add_document(null_tokens, null_entropy)).p_value < 0.05;
  }
  EXPECT_LE(under_05, keys * 0.05 + 4 * std::sqrt(keys * 0.05 * 0.95));
  EXPECT_THROW(detector.add_document(tokens, std::vector<float>(3, 1.0f)), Error) << "one weight per token";
}

}  // namespace
}  // namespace tracemark
