#include "tracemark/verify/binomial.hpp"

#include <gtest/gtest.h>
#include <mpfr.h>

#include <cmath>
#include <limits>

namespace tracemark {
namespace {

// Independent reference: the upper tail summed term by term in 512-bit MPFR arithmetic
// (first term from ln-gamma, then the ratio recurrence), exact to far more digits than a double.
double reference_log_upper_tail(std::uint64_t k, std::uint64_t n, double p) {
  if (k == 0) return 0.0;
  constexpr mpfr_prec_t kBits = 512;
  mpfr_t mp, mq, log_term, term, sum, scratch, ratio;
  for (mpfr_ptr x : {mp, mq, log_term, term, sum, scratch, ratio}) mpfr_init2(x, kBits);
  mpfr_set_d(mp, p, MPFR_RNDN);                    // the exact double p
  mpfr_ui_sub(mq, 1, mp, MPFR_RNDN);               // 1 - p, exactly at 512 bits
  // ln C(n,k) + k ln p + (n-k) ln q
  mpfr_set_ui(scratch, static_cast<unsigned long>(n + 1), MPFR_RNDN);
  mpfr_lngamma(log_term, scratch, MPFR_RNDN);
  mpfr_set_ui(scratch, static_cast<unsigned long>(k + 1), MPFR_RNDN);
  mpfr_lngamma(scratch, scratch, MPFR_RNDN);
  mpfr_sub(log_term, log_term, scratch, MPFR_RNDN);
  mpfr_set_ui(scratch, static_cast<unsigned long>(n - k + 1), MPFR_RNDN);
  mpfr_lngamma(scratch, scratch, MPFR_RNDN);
  mpfr_sub(log_term, log_term, scratch, MPFR_RNDN);
  mpfr_log(scratch, mp, MPFR_RNDN);
  mpfr_mul_ui(scratch, scratch, static_cast<unsigned long>(k), MPFR_RNDN);
  mpfr_add(log_term, log_term, scratch, MPFR_RNDN);
  mpfr_log(scratch, mq, MPFR_RNDN);
  mpfr_mul_ui(scratch, scratch, static_cast<unsigned long>(n - k), MPFR_RNDN);
  mpfr_add(log_term, log_term, scratch, MPFR_RNDN);
  mpfr_exp(term, log_term, MPFR_RNDN);  // MPFR's exponent range makes underflow impossible here
  mpfr_set(sum, term, MPFR_RNDN);
  mpfr_div(ratio, mp, mq, MPFR_RNDN);
  const double mean = static_cast<double>(n) * p;
  for (std::uint64_t j = k; j < n; ++j) {
    mpfr_mul_ui(term, term, static_cast<unsigned long>(n - j), MPFR_RNDN);
    mpfr_div_ui(term, term, static_cast<unsigned long>(j + 1), MPFR_RNDN);
    mpfr_mul(term, term, ratio, MPFR_RNDN);
    mpfr_add(sum, sum, term, MPFR_RNDN);
    if (static_cast<double>(j) > mean) {  // past the mode terms only shrink: stop when negligible
      mpfr_div(scratch, term, sum, MPFR_RNDN);
      if (mpfr_cmp_d(scratch, 1e-160) < 0) break;
    }
  }
  mpfr_log(scratch, sum, MPFR_RNDN);
  const double result = mpfr_get_d(scratch, MPFR_RNDN);
  for (mpfr_ptr x : {mp, mq, log_term, term, sum, scratch, ratio}) mpfr_clear(x);
  return result;
}

struct TailCase {
  std::uint64_t k, n;
  double p;
};

void expect_close(const TailCase& c) {
  const double expected = reference_log_upper_tail(c.k, c.n, c.p);
  const double actual = log_binomial_upper_tail(c.k, c.n, c.p);
  // Relative accuracy of ln P, and of P itself where P is a normal double.
  const double tolerance = 1e-11 * std::max(1.0, std::fabs(expected));
  EXPECT_NEAR(actual, expected, tolerance) << "k=" << c.k << " n=" << c.n << " p=" << c.p;
  if (expected > -700 && expected < 0) {
    EXPECT_NEAR(std::expm1(actual - expected), 0.0, 1e-9) << "k=" << c.k << " n=" << c.n << " p=" << c.p;
  }
}

TEST(BinomialUpperTail, MatchesHighPrecisionReferenceAcrossTheRange) {
  for (double p : {0.25, 0.1, 0.5, 0.9, 0.001, 0.3333333333333333}) {
    for (std::uint64_t n : {1ull, 2ull, 10ull, 200ull, 1000ull, 12345ull, 200000ull}) {
      const double mean = static_cast<double>(n) * p, sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
      for (double target : {1.0, mean - 3 * sd, mean - 0.5 * sd, mean, mean + 0.7 * sd, mean + 2 * sd, mean + 5 * sd,
                            mean + 30 * sd, 0.5 * static_cast<double>(n), 0.95 * static_cast<double>(n),
                            static_cast<double>(n)}) {
        if (target < 1.0 || target > static_cast<double>(n)) continue;
        expect_close({static_cast<std::uint64_t>(std::llround(target)), n, p});
      }
    }
  }
}

TEST(BinomialUpperTail, ExtremeTailsStayExactFarBelowTheSmallestDouble) {
  // ln P of about -2e4 to -2.8e5: P is 1e-9000 to 1e-120000, far below the smallest double.
  expect_close({40000, 100000, 0.25});
  expect_close({600000, 1000000, 0.25});
  expect_close({200, 200, 0.25});  // exactly 0.25^200
  EXPECT_DOUBLE_EQ(log_binomial_upper_tail(1000000, 1000000, 0.25), 1000000 * std::log(0.25));
  // A p-value near 1e-300 is still a positive double with full relative precision.
  const double log_p = log_binomial_upper_tail(715, 1000, 0.25);
  EXPECT_LT(log_p / std::log(10.0), -200);
  EXPECT_GT(std::exp(log_p), 0.0);
  expect_close({715, 1000, 0.25});
}

TEST(BinomialUpperTail, EdgeCases) {
  EXPECT_EQ(log_binomial_upper_tail(0, 0, 0.25), 0.0);
  EXPECT_EQ(log_binomial_upper_tail(0, 100, 0.25), 0.0);
  EXPECT_EQ(log_binomial_upper_tail(101, 100, 0.25), -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(std::exp(log_binomial_upper_tail(1, 1, 0.25)), 0.25, 1e-15);
  EXPECT_NEAR(std::exp(log_binomial_upper_tail(1, 2, 0.5)), 0.75, 1e-15);
  EXPECT_THROW(log_binomial_upper_tail(1, 2, 0.0), std::exception);
  EXPECT_THROW(log_binomial_upper_tail(1, 2, 1.0), std::exception);
}

TEST(BinomialPmf, MatchesHighPrecisionReference) {
  for (auto [k, n, p] : {TailCase{3, 10, 0.25}, TailCase{50, 200, 0.25}, TailCase{180, 200, 0.25},
                         TailCase{0, 200, 0.25}, TailCase{200, 200, 0.25}, TailCase{25000, 100000, 0.25}}) {
    // pmf(k) = P(X >= k) - P(X >= k+1), both from the reference.
    const double upper = reference_log_upper_tail(k, n, p);
    const double upper_next = k < n ? reference_log_upper_tail(k + 1, n, p) : -std::numeric_limits<double>::infinity();
    const double expected = upper + std::log1p(-std::exp(upper_next - upper));
    EXPECT_NEAR(log_binomial_pmf(k, n, p), expected, 1e-11 * std::max(1.0, std::fabs(expected))) << k << " " << n;
  }
}

TEST(BinomialTestResult, NothingScoredGivesPOneNotNaN) {
  const BinomialTest test = binomial_test(0, 0, 0.25);
  EXPECT_EQ(test.p_value, 1.0);
  EXPECT_EQ(test.log10_p, 0.0);
  EXPECT_EQ(test.z, 0.0);
  EXPECT_FALSE(std::isnan(test.z));
}

TEST(BinomialTestResult, ZScoreAndPValue) {
  const BinomialTest test = binomial_test(100, 200, 0.25);
  EXPECT_NEAR(test.z, (100 - 50) / std::sqrt(200 * 0.25 * 0.75), 1e-12);
  EXPECT_NEAR(test.log10_p, reference_log_upper_tail(100, 200, 0.25) / std::log(10.0), 1e-10);
  EXPECT_GT(test.p_value, 0.0);
}

TEST(FormatPValue, NeverPrintsZero) {
  EXPECT_EQ(format_p_value(0.0), "1");
  EXPECT_EQ(format_p_value(std::log10(0.5)), "0.5");
  EXPECT_EQ(format_p_value(std::log10(0.0123)), "0.0123");
  EXPECT_EQ(format_p_value(std::log10(3.2e-14)), "3.20e-14");
  EXPECT_EQ(format_p_value(-400.0), "1.00e-400");
  EXPECT_EQ(format_p_value(-4000.5), "3.16e-4001");
  EXPECT_EQ(format_p_value(std::log10(9.999e-20)), "1.00e-19");
}

}  // namespace
}  // namespace tracemark
