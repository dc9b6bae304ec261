// Fisher's exact test for "green rate under A above the rate under B", and the minimum detectable
// rate, against values computed independently with exact integer arithmetic (Python's math.comb).
#include "tracemark/verify/two_sample.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "test_support.hpp"
#include "tracemark/verify/binomial.hpp"

namespace tracemark {
namespace {

constexpr double kLn10 = 2.302585092994046;

TEST(TwoSample, FisherExactMatchesExactIntegerSums) {
  // log10 P(X >= x) = log10(sum_x C(n_a, x) C(n_b, s - x)) - log10 C(N, s), in Python big integers.
  struct Case {
    std::uint64_t green_a, scored_a, green_b, scored_b;
    double log10_p;
  };
  const Case cases[] = {
      {12, 20, 5, 20, -1.572262470556531},
      {60, 200, 50, 200, -0.8047256221662025},
      {3000, 10000, 2500, 10000, -14.877638452760038},
      {40, 100, 10, 1000, -35.53022775963126},
      {5, 100, 30, 100, -8.787271355004123e-08},  // A well below B: p just under 1
      {1, 1, 0, 1, -0.3010299956639812},
  };
  for (const Case& c : cases) {
    const double got = log_fisher_exact_greater(c.green_a, c.scored_a, c.green_b, c.scored_b) / kLn10;
    EXPECT_NEAR(got, c.log10_p, 1e-9 * std::max(1.0, std::fabs(c.log10_p)) + 1e-15)
        << c.green_a << "/" << c.scored_a << " vs " << c.green_b << "/" << c.scored_b;
  }
  EXPECT_NEAR(log_hypergeometric_pmf(3000, 10000, 10000, 5500) / kLn10, -15.525001931361658, 1e-9);
  EXPECT_EQ(log_fisher_exact_greater(0, 10, 5, 10), 0.0);   // the lowest value: p = 1
  EXPECT_EQ(log_fisher_exact_greater(3, 0, 5, 10), 0.0);    // an empty sample says nothing
  EXPECT_EQ(log_hypergeometric_pmf(11, 10, 10, 12), -INFINITY);
}

TEST(TwoSample, ExtremeTailsStayFiniteAndOrdered) {
  // Millions of tuples with rates 0.30 and 0.25: far below the smallest double, finite and monotone.
  const double a = log_fisher_exact_greater(600'000, 2'000'000, 500'000, 2'000'000);
  const double b = log_fisher_exact_greater(610'000, 2'000'000, 500'000, 2'000'000);
  EXPECT_TRUE(std::isfinite(a));
  EXPECT_LT(a / kLn10, -400);
  EXPECT_LT(b, a);
}

TEST(TwoSample, FisherIsValidUnderEqualRates) {
  // 3,000 pairs of independent Binomial(2000, 0.25) counts: P(p < alpha) is at most alpha (the test
  // is discrete and conservative); the count stays below alpha * 3000 + 3.3 standard deviations.
  std::mt19937_64 rng(testing::announce_seed(151));
  std::binomial_distribution<std::uint64_t> draw(2000, 0.25);
  int below_01 = 0, below_05 = 0;
  for (int i = 0; i < 3000; ++i) {
    const double p = std::exp(log_fisher_exact_greater(draw(rng), 2000, draw(rng), 2000));
    below_01 += p < 0.01;
    below_05 += p < 0.05;
  }
  std::cout << "p < 0.01: " << below_01 << ", p < 0.05: " << below_05 << " of 3000\n";
  EXPECT_LE(below_01, 30 + 3.3 * std::sqrt(3000 * 0.01 * 0.99));
  EXPECT_LE(below_05, 150 + 3.3 * std::sqrt(3000 * 0.05 * 0.95));
  EXPECT_GE(below_05, 60);  // and not absurdly conservative: the test does reject at about its level
}

TEST(TwoSample, MinimumDetectableRate) {
  const double rate = minimum_detectable_rate(10'000, 0.25, 1e-6);
  EXPECT_GT(rate, 0.25);
  EXPECT_LT(rate, 0.30);
  const auto p_at = [](double r) {
    return log_binomial_upper_tail(static_cast<std::uint64_t>(std::ceil(r * 10'000)), 10'000, 0.25);
  };
  EXPECT_LT(p_at(rate), std::log(1e-6));
  EXPECT_GE(p_at(rate - 0.001), std::log(1e-6));
  EXPECT_LT(minimum_detectable_rate(1'000'000, 0.25, 1e-6), rate);  // more tuples, smaller effects
  EXPECT_EQ(minimum_detectable_rate(3, 0.25, 1e-6), 1.0);          // three tuples can never reach 1e-6
}

}  // namespace
}  // namespace tracemark
