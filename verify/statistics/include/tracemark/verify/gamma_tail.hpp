// Exact upper tail of the Gamma(a, 1) distribution in log space: the p-value of a sum of a
// independent Exp(1) scores (the Gumbel-max detector's statistic). No normal approximation.
#pragma once

#include <cstdint>

namespace tracemark {

// Natural log of Q(a, x) = Gamma(a, x) / Gamma(a) = P(X >= x), X ~ Gamma(shape a, scale 1), for
// a > 0 and x >= 0 (Error(invalid_argument) otherwise); 0 for x = 0.
// Method: for x < a + 1 the series of P(a, x) (Abramowitz & Stegun 6.5.29; Numerical Recipes 3rd ed.
// 6.2.5), Q = 1 - P; otherwise the continued fraction of Gamma(a, x) (A&S 6.5.31; NR 6.2.7) by the
// modified Lentz method. The common factor x^a e^-x / Gamma(a) is a times the Poisson mass at a,
// taken in log space from Loader's saddle-point form (stirling error and deviance, as the binomial
// tail), so it keeps full relative precision for a up to 1e6 and beyond and for ln Q far below
// -700 (where Q itself underflows a double).
double log_gamma_upper_tail(double a, double x);

// Result of the one-sided test "the scores sum higher than chance" for `scored` Exp(1) scores.
struct GammaTest {
  std::uint64_t scored = 0;
  double score = 0;     // sum of the per-tuple scores
  double log_p = 0;     // natural log of P(Gamma(scored, 1) >= score)
  double log10_p = 0;   // log_p / ln 10
  double p_value = 1;   // exp(log_p); print with format_p_value (binomial.hpp)
};

// scored = 0 gives p = 1.
GammaTest gamma_test(double score, std::uint64_t scored);

}  // namespace tracemark
