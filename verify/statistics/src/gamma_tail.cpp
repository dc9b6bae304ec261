#include "tracemark/verify/gamma_tail.hpp"

#include <cmath>
#include <limits>
#include <numbers>

#include "loader_terms.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// ln(x^a e^-x / Gamma(a + 1)): the Poisson mass at a with mean x, continued to real a, in Loader's
// form -stirlerr(a) - bd0(a, x) - ln(2 pi a) / 2 (Loader 2000, dpois_raw), free of cancellation.
double log_poisson_mass(double a, double x) {
  if (x == 0.0) return -std::numeric_limits<double>::infinity();
  return -loader::stirling_error(a) - loader::deviance_term(a, x) - 0.5 * std::log(2.0 * std::numbers::pi * a);
}

// sum_{k>=0} x^k / ((a+1)(a+2)...(a+k)), so that P(a, x) = mass * series (A&S 6.5.29).
double lower_series(double a, double x) {
  double term = 1.0, sum = 1.0;
  for (long k = 1; k < 100'000'000; ++k) {
    term *= x / (a + static_cast<double>(k));
    sum += term;
    if (term < sum * 1e-17) return sum;
  }
  throw Error(ErrorCode::internal, "incomplete gamma series did not converge");
}

// h with Gamma(a, x) = e^-x x^a h: the continued fraction 1/(x+1-a- 1(1-a)/(x+3-a- 2(2-a)/(x+5-a- ...)))
// (A&S 6.5.31), evaluated by the modified Lentz method (NR 6.2.7). Converges fast for x >= a + 1;
// iterations grow like sqrt(a) near x = a.
double upper_fraction(double a, double x) {
  constexpr double tiny = 1e-300;
  constexpr double epsilon = 1e-16;
  double b = x + 1.0 - a;
  double c = 1.0 / tiny;
  double d = 1.0 / b;
  double h = d;
  for (long i = 1; i < 100'000'000; ++i) {
    const double an = -static_cast<double>(i) * (static_cast<double>(i) - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1.0) < epsilon) return h;
  }
  throw Error(ErrorCode::internal, "incomplete gamma continued fraction did not converge");
}

}  // namespace

double log_gamma_upper_tail(double a, double x) {
  if (!(a > 0.0) || !std::isfinite(a) || !(x >= 0.0) || std::isnan(x)) {
    throw Error(ErrorCode::invalid_argument, "gamma tail needs a > 0 and x >= 0");
  }
  if (x == 0.0) return 0.0;
  if (std::isinf(x)) return -std::numeric_limits<double>::infinity();
  // x^a e^-x / Gamma(a) = a * x^a e^-x / Gamma(a + 1).
  const double log_mass = log_poisson_mass(a, x);
  if (x < a + 1.0) {
    // For a >= 1, Q(a, x) > Q(a, a + 1) > 0.13 here, so 1 - P loses nothing that matters; for a < 1
    // the relative error of Q grows like 1/Q (the detector only uses whole a >= 1).
    const double lower = std::exp(log_mass) * lower_series(a, x);
    return std::log1p(-std::min(lower, 1.0));
  }
  return std::log(a) + log_mass + std::log(upper_fraction(a, x));
}

GammaTest gamma_test(double score, std::uint64_t scored) {
  GammaTest test;
  test.scored = scored;
  test.score = score;
  if (scored == 0) return test;
  test.log_p = log_gamma_upper_tail(static_cast<double>(scored), std::max(score, 0.0));
  test.log10_p = test.log_p / std::numbers::ln10;
  test.p_value = std::exp(test.log_p);
  return test;
}

}  // namespace tracemark
