// The Gamma upper tail against an independent reference in 512-bit MPFR arithmetic: for whole n,
// Q(n, x) = e^-x sum_{k<n} x^k / k! (the Poisson identity, A&S 6.5.13 and 26.4.21), summed term by
// term from k = n - 1 downwards; for fractional a, MPFR's own incomplete gamma (mpfr_gamma_inc).
#include <gtest/gtest.h>
#include <mpfr.h>

#include <cmath>
#include <limits>

#include "tracemark/error.hpp"
#include "tracemark/verify/gamma_tail.hpp"

namespace tracemark {
namespace {

constexpr mpfr_prec_t kBits = 512;

double reference_log_tail_whole(unsigned long n, double x) {
  mpfr_t mx, log_first, term, sum, scratch;
  for (mpfr_ptr v : {mx, log_first, term, sum, scratch}) mpfr_init2(v, kBits);
  mpfr_set_d(mx, x, MPFR_RNDN);
  // ln of the largest-index term: -x + (n-1) ln x - ln((n-1)!)
  mpfr_log(log_first, mx, MPFR_RNDN);
  mpfr_mul_ui(log_first, log_first, n - 1, MPFR_RNDN);
  mpfr_sub(log_first, log_first, mx, MPFR_RNDN);
  mpfr_set_ui(scratch, n, MPFR_RNDN);
  mpfr_lngamma(scratch, scratch, MPFR_RNDN);
  mpfr_sub(log_first, log_first, scratch, MPFR_RNDN);
  // sum of T_k / T_{n-1} over k = n-1 down to 0, with T_{k-1} / T_k = k / x
  mpfr_set_ui(term, 1, MPFR_RNDN);
  mpfr_set_ui(sum, 1, MPFR_RNDN);
  for (unsigned long k = n - 1; k >= 1; --k) {
    mpfr_mul_ui(term, term, k, MPFR_RNDN);
    mpfr_div(term, term, mx, MPFR_RNDN);
    mpfr_add(sum, sum, term, MPFR_RNDN);
    if (static_cast<double>(k) < x) {  // below the mode the terms only shrink: stop when negligible
      mpfr_div(scratch, term, sum, MPFR_RNDN);
      if (mpfr_cmp_d(scratch, 1e-160) < 0) break;
    }
  }
  mpfr_log(sum, sum, MPFR_RNDN);
  mpfr_add(sum, sum, log_first, MPFR_RNDN);
  const double result = mpfr_get_d(sum, MPFR_RNDN);
  for (mpfr_ptr v : {mx, log_first, term, sum, scratch}) mpfr_clear(v);
  return result;
}

double reference_log_tail_fractional(double a, double x) {
  mpfr_t ma, mx, upper, scratch;
  for (mpfr_ptr v : {ma, mx, upper, scratch}) mpfr_init2(v, kBits);
  mpfr_set_d(ma, a, MPFR_RNDN);
  mpfr_set_d(mx, x, MPFR_RNDN);
  mpfr_gamma_inc(upper, ma, mx, MPFR_RNDN);
  mpfr_log(upper, upper, MPFR_RNDN);
  mpfr_lngamma(scratch, ma, MPFR_RNDN);
  mpfr_sub(upper, upper, scratch, MPFR_RNDN);
  const double result = mpfr_get_d(upper, MPFR_RNDN);
  for (mpfr_ptr v : {ma, mx, upper, scratch}) mpfr_clear(v);
  return result;
}

void expect_close(double actual, double expected, double a, double x) {
  // Relative accuracy of ln Q, and of Q itself where Q is a normal double.
  EXPECT_NEAR(actual, expected, 1e-11 * std::max(1.0, std::fabs(expected))) << "a=" << a << " x=" << x;
  if (expected > -700) {
    EXPECT_NEAR(std::expm1(actual - expected), 0.0, 1e-9) << "a=" << a << " x=" << x;
  }
}

TEST(GammaUpperTail, MatchesHighPrecisionReferenceForWholeShapes) {
  for (unsigned long n : {1ul, 2ul, 3ul, 7ul, 30ul, 200ul, 4321ul, 100000ul, 1000000ul}) {
    const double mean = static_cast<double>(n), sd = std::sqrt(mean);
    for (double x : {mean - 3 * sd, mean - 0.5 * sd, mean, mean + 0.9, mean + 1.0, mean + 1.1, mean + 0.7 * sd,
                     mean + 2 * sd, mean + 5 * sd, mean + 40 * sd, 3 * mean + 10, 50 * mean + 100}) {
      if (x <= 0) continue;
      expect_close(log_gamma_upper_tail(mean, x), reference_log_tail_whole(n, x), mean, x);
    }
  }
}

TEST(GammaUpperTail, ExtremeTailsStayAccurateFarBelowTheSmallestDouble) {
  // ln Q from about -700 (Q = 1e-300) down to about -6.7e6 (Q = 10^-2.9e6).
  struct Case {
    unsigned long n;
    double x;
  };
  int below_double = 0;
  for (const Case& c : {Case{1, 700.0}, Case{1, 1e5}, Case{10, 760.0}, Case{200, 1200.0}, Case{1000, 3000.0},
                        Case{1000000, 1.0e6 + 4.0e4}, Case{1000000, 3.0e6}, Case{1000000, 1.0e7}}) {
    const double expected = reference_log_tail_whole(c.n, c.x);
    const double actual = log_gamma_upper_tail(static_cast<double>(c.n), c.x);
    expect_close(actual, expected, static_cast<double>(c.n), c.x);
    below_double += expected < -690.8;  // ln(1e-300)
  }
  EXPECT_GE(below_double, 7) << "the cases must reach below 1e-300";
}

TEST(GammaUpperTail, MatchesMpfrIncompleteGammaForFractionalShapes) {
  for (double a : {1.5, 2.25, 10.5, 99.9}) {
    for (double x : {0.5 * a, a, a + 1.5, 2 * a + 3, 10 * a + 20}) {
      expect_close(log_gamma_upper_tail(a, x), reference_log_tail_fractional(a, x), a, x);
    }
  }
}

TEST(GammaUpperTail, EdgesAndBadArguments) {
  EXPECT_EQ(log_gamma_upper_tail(5, 0), 0.0);
  EXPECT_EQ(log_gamma_upper_tail(5, std::numeric_limits<double>::infinity()), -std::numeric_limits<double>::infinity());
  EXPECT_NEAR(log_gamma_upper_tail(1, 3.0), -3.0, 1e-15) << "Q(1, x) = e^-x";
  EXPECT_THROW(log_gamma_upper_tail(0, 1), Error);
  EXPECT_THROW(log_gamma_upper_tail(-1, 1), Error);
  EXPECT_THROW(log_gamma_upper_tail(1, -1), Error);
  EXPECT_THROW(log_gamma_upper_tail(1, std::nan("")), Error);
  const GammaTest none = gamma_test(0.0, 0);
  EXPECT_EQ(none.p_value, 1.0);
  const GammaTest some = gamma_test(250.0, 200);
  EXPECT_NEAR(some.log10_p * std::log(10.0), some.log_p, 1e-12);
  EXPECT_LT(some.p_value, 0.01);
}

}  // namespace
}  // namespace tracemark
