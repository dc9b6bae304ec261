#include "tracemark/verify/interval.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "tracemark/verify/binomial.hpp"
#include "tracemark/verify/holm.hpp"

namespace tracemark {
namespace {

TEST(ClopperPearson, MatchesPublishedValues) {
  // Reference values computed independently: bisection on exact binomial tails in Python's
  // integer arithmetic (math.comb), to 7 digits.
  struct Case { std::uint64_t x, n; double lower, upper; };
  for (const Case& c : {Case{5, 20, 0.0865715, 0.4910459}, Case{0, 10, 0.0, 0.3084971},
                        Case{10, 10, 0.6915029, 1.0}, Case{250, 1000, 0.2234304, 0.2780500}}) {
    const RateInterval interval = clopper_pearson_interval(c.x, c.n, 0.95);
    EXPECT_NEAR(interval.lower, c.lower, 1e-7) << c.x << "/" << c.n;
    EXPECT_NEAR(interval.upper, c.upper, 1e-7) << c.x << "/" << c.n;
  }
}

TEST(ClopperPearson, BoundsSolveTheTailEquations) {
  const RateInterval interval = clopper_pearson_interval(30, 200, 0.95);
  EXPECT_NEAR(std::exp(log_binomial_upper_tail(30, 200, interval.lower)), 0.025, 1e-9);
  EXPECT_NEAR(1.0 - std::exp(log_binomial_upper_tail(31, 200, interval.upper)), 0.025, 1e-9);
  const RateInterval empty = clopper_pearson_interval(0, 0, 0.95);
  EXPECT_EQ(empty.lower, 0.0);
  EXPECT_EQ(empty.upper, 1.0);
}

TEST(TuplesNeeded, IsTheSmallestSampleReachingTheTarget) {
  const auto needed = tuples_needed_for(0.30, 0.25, 1e-6);
  ASSERT_TRUE(needed.has_value());
  auto log_p_at = [](std::uint64_t n) {
    return log_binomial_upper_tail(static_cast<std::uint64_t>(std::ceil(0.30 * static_cast<double>(n))), n, 0.25);
  };
  EXPECT_LT(log_p_at(*needed), std::log(1e-6));
  EXPECT_GE(log_p_at(*needed - 20), std::log(1e-6));  // not reached a little earlier
  // Normal approximation as a sanity check: n ~ (z sqrt(g(1-g)) / d)^2 with z = 4.75 -> ~1692.
  EXPECT_NEAR(static_cast<double>(*needed), 1692.0, 150.0);
  EXPECT_FALSE(tuples_needed_for(0.25, 0.25, 1e-6).has_value());
  EXPECT_FALSE(tuples_needed_for(0.20, 0.25, 1e-6).has_value());
}

TEST(Holm, AdjustsInLogSpaceAndKeepsOrder) {
  // p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06,
  // 0.04*1 -> max(0.06, 0.04) = 0.06.
  const std::vector<double> log_p = {std::log(0.01), std::log(0.04), std::log(0.03), std::log(0.005)};
  const std::vector<double> adjusted = holm_adjust_log_p(log_p);
  EXPECT_NEAR(std::exp(adjusted[0]), 0.03, 1e-12);
  EXPECT_NEAR(std::exp(adjusted[1]), 0.06, 1e-12);
  EXPECT_NEAR(std::exp(adjusted[2]), 0.06, 1e-12);
  EXPECT_NEAR(std::exp(adjusted[3]), 0.02, 1e-12);
  // Far below the smallest double, and capped at 1.
  // Sorted: e^-5000 * 3; 0.6 * 2 = 1.2, capped at 1; 0.7 * 1 -> running maximum 1.
  const std::vector<double> extreme = holm_adjust_log_p({-5000.0, std::log(0.6), std::log(0.7)});
  EXPECT_NEAR(extreme[0], -5000.0 + std::log(3.0), 1e-9);
  EXPECT_EQ(extreme[1], 0.0);
  EXPECT_EQ(extreme[2], 0.0);
}

}  // namespace
}  // namespace tracemark
