// The green-mass test (verify/colour_score_test.hpp): a valid p-value under the null, also when the
// weights are chosen adaptively, never below the exact tail where that is known, and more power
// than a greedy token's colour at the same number of windows.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "tracemark/error.hpp"
#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/colour_score_test.hpp"

namespace tracemark {
namespace {

constexpr double kGamma = 0.25;

// k probabilities from a random softmax (spread like a language model's top k), summing to `mass`.
std::vector<double> random_weights(std::mt19937_64& rng, std::size_t k, double mass, double sharpness) {
  std::normal_distribution<double> normal(0.0, sharpness);
  std::vector<double> w(k);
  double sum = 0;
  for (double& x : w) sum += (x = std::exp(normal(rng)));
  for (double& x : w) x *= mass / sum;
  return w;
}

std::vector<std::uint8_t> random_flags(std::mt19937_64& rng, std::size_t k, double p) {
  std::bernoulli_distribution green(p);
  std::vector<std::uint8_t> flags(k);
  for (auto& f : flags) f = green(rng) ? 1 : 0;
  return flags;
}

TEST(ColourScoreTest, LogMgfIsStableAndExact) {
  EXPECT_DOUBLE_EQ(colour_log_mgf(0.0, kGamma), 0.0);
  for (double x : {1e-6, 0.3, 2.0, 29.0}) {
    EXPECT_NEAR(colour_log_mgf(x, kGamma), std::log(1 - kGamma + kGamma * std::exp(x)) - kGamma * x, 1e-12);
  }
  // Beyond the switch to the large-x form: continuous and finite far out.
  EXPECT_NEAR(colour_log_mgf(30.0 - 1e-9, kGamma), colour_log_mgf(30.0, kGamma), 1e-8);
  EXPECT_TRUE(std::isfinite(colour_log_mgf(5000.0, kGamma)));
  // Negative weights: the log-mgf of B - gamma at x < 0, tending to ln(1 - gamma) - gamma x.
  EXPECT_NEAR(colour_log_mgf(-2.0, kGamma), std::log(1 - kGamma + kGamma * std::exp(-2.0)) + 2.0 * kGamma, 1e-12);
  EXPECT_NEAR(colour_log_mgf(-5000.0, kGamma), std::log(1 - kGamma) + 5000.0 * kGamma, 1e-9);
  EXPECT_NEAR(colour_log_mgf(5000.0, kGamma), 5000.0 * (1 - kGamma) + std::log(kGamma), 1e-9);
}

// 1,000 null trials, each filling an accumulator through add_windows(rng, test): the share of
// p-values at or below 0.05 and 0.01. Binomial(1000, 0.05): mean 50, sd 6.9; (1000, 0.01): mean
// 10, sd 3.1. The bound is conservative, so far fewer are expected; the limits are about 3 sd above
// a valid test's mean.
template <typename AddWindows>
void expect_valid_under_the_null(std::uint64_t seed, AddWindows add_windows) {
  std::mt19937_64 rng(seed);
  const int trials = 1000;
  int below_05 = 0, below_01 = 0;
  for (int t = 0; t < trials; ++t) {
    ColourScoreAccumulator test(kGamma);
    add_windows(rng, test);
    const double p = test.result().p_value;
    below_05 += p <= 0.05;
    below_01 += p <= 0.01;
  }
  EXPECT_LE(below_05, 71);
  EXPECT_LE(below_01, 20);
}

TEST(ColourScoreTest, ValidUnderTheNullWithSpreadWeights) {
  expect_valid_under_the_null(11, [](std::mt19937_64& rng, ColourScoreAccumulator& test) {
    for (int j = 0; j < 150; ++j) {
      const std::vector<double> w = random_weights(rng, 10, 0.9, 1.5);
      test.add_window(w, random_flags(rng, w.size(), kGamma));
    }
  });
}

// The weights may depend on the colours before (reading mode's queries read earlier answers): a
// reader that stakes everything on one token after a green window and spreads its mass after a red
// one must not be able to push the p-value down.
TEST(ColourScoreTest, ValidWhenWeightsAdaptToEarlierColours) {
  expect_valid_under_the_null(12, [](std::mt19937_64& rng, ColourScoreAccumulator& test) {
    bool last_green = false;
    for (int j = 0; j < 200; ++j) {
      const std::vector<double> w = last_green ? std::vector<double>{1.0} : random_weights(rng, 20, 0.5, 0.3);
      const std::vector<std::uint8_t> flags = random_flags(rng, w.size(), kGamma);
      test.add_window(w, flags);
      double green_mass = 0;
      for (std::size_t i = 0; i < w.size(); ++i) green_mass += flags[i] * w[i];
      last_green = green_mass > kGamma * 0.5;
    }
  });
}

// Centred log-probabilities (the green tilt): weights of both signs summing to 0 in each window.
TEST(ColourScoreTest, ValidUnderTheNullWithCentredSignedWeights) {
  expect_valid_under_the_null(14, [](std::mt19937_64& rng, ColourScoreAccumulator& test) {
    for (int j = 0; j < 150; ++j) {
      std::vector<double> w = random_weights(rng, 10, 1.0, 1.5);
      double mean = 0;
      for (double& x : w) mean += (x = std::log(x));
      for (double& x : w) x -= mean / w.size();
      test.add_window(w, random_flags(rng, w.size(), kGamma));
    }
  });
}

// With one token of weight 1 a window, S is a centred binomial count, whose exact tail is known:
// the mixture bound is a valid p-value, so it is never below it, and it stays within its stated
// price (ln 27 plus 4% of the exponent) of the Chernoff bound.
TEST(ColourScoreTest, NeverBelowTheExactBinomialTail) {
  const std::uint64_t n = 2000;
  for (std::uint64_t green : {500u, 540u, 580u, 650u, 800u, 1200u}) {
    ColourScoreAccumulator test(kGamma);
    for (std::uint64_t j = 0; j < n; ++j) {
      const double w[1] = {1.0};
      const std::uint8_t flag[1] = {static_cast<std::uint8_t>(j < green ? 1 : 0)};
      test.add_window(w, flag);
    }
    const ColourScoreTest result = test.result();
    const BinomialTest exact = binomial_test(green, n, kGamma);
    EXPECT_GE(result.log_p, exact.log_p - 1e-9) << green;
    EXPECT_NEAR(result.green_weight / result.weight, double(green) / n, 1e-12);
    if (green >= 650) {
      // The Chernoff exponent -n KL(green/n || gamma); the mixture keeps at least 96% of it, minus ln 27.
      const double q = double(green) / n;
      const double kl = q * std::log(q / kGamma) + (1 - q) * std::log((1 - q) / (1 - kGamma));
      EXPECT_LE(result.log_p, -0.96 * n * kl + std::log(27.0) + 1e-9) << green;
    }
  }
}

// A suspect whose green tokens carry 30% of its listed mass instead of 25%: over 1,000 windows of
// 10 spread tokens the green mass is overwhelming evidence, where the greedy token's colour alone
// (one token a window, green with probability 0.3) is weak even at its expected count.
TEST(ColourScoreTest, MorePowerThanTheGreedyTokenAtTheSameWindows) {
  std::mt19937_64 rng(13);
  ColourScoreAccumulator mass(kGamma);
  const std::uint64_t windows = 1000;
  for (std::uint64_t j = 0; j < windows; ++j) {
    const std::vector<double> w = random_weights(rng, 10, 0.8, 0.3);
    mass.add_window(w, random_flags(rng, w.size(), 0.30));
  }
  const ColourScoreTest result = mass.result();
  EXPECT_LT(result.log10_p, -12.0);
  EXPECT_GT(binomial_test(300, windows, kGamma).log10_p, -5.0);
  EXPECT_GT(result.green_weight / result.weight, 0.27);
}

TEST(ColourScoreTest, RefusesImpossibleInput) {
  EXPECT_THROW(ColourScoreAccumulator(0.0), Error);
  EXPECT_THROW(ColourScoreAccumulator(1.0), Error);
  ColourScoreAccumulator test(kGamma);
  const std::uint8_t flags[2] = {1, 0};
  const double too_large[2] = {65.0, 0.0};
  const double too_negative[2] = {-65.0, 0.5};
  const double infinite[2] = {std::numeric_limits<double>::infinity(), 0.1};
  const double nan[2] = {std::numeric_limits<double>::quiet_NaN(), 0.1};
  EXPECT_THROW(test.add_window(too_large, flags), Error);
  EXPECT_THROW(test.add_window(too_negative, flags), Error);
  EXPECT_THROW(test.add_window(infinite, flags), Error);
  EXPECT_THROW(test.add_window(nan, flags), Error);
  const double fine[2] = {0.5, 0.5};
  EXPECT_THROW(test.add_window(fine, std::span<const std::uint8_t>(flags, 1)), Error);
  EXPECT_EQ(test.result().windows, 0u);  // nothing was half-added
  EXPECT_EQ(test.result().p_value, 1.0);
}

}  // namespace
}  // namespace tracemark
