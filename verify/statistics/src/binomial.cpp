#include "tracemark/verify/binomial.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>

#include "loader_terms.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// Continued fraction for the regularized incomplete beta, I_x(a, b) = prefactor * cf, with
// prefactor = x^a (1-x)^b / (a B(a, b)) (A&S 26.5.8; Lentz's method as modified by Thompson and
// Barnett). Converges fast for x < (a + 1) / (a + b + 2); iterations grow like sqrt(a + b).
double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  constexpr double epsilon = 1e-16;
  const double qab = a + b, qap = a + 1.0, qam = a - 1.0;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double h = d;
  for (long m = 1; m < 100'000'000; ++m) {
    const double md = static_cast<double>(m), m2 = 2.0 * md;
    double aa = md * (b - md) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + md) * (qab + md) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1.0) < epsilon) return h;
  }
  throw Error(ErrorCode::internal, "incomplete beta continued fraction did not converge");
}

}  // namespace

double log_binomial_pmf(std::uint64_t k, std::uint64_t n, double p) {
  if (!(p > 0.0 && p < 1.0)) throw Error(ErrorCode::invalid_argument, "binomial probability must be in (0, 1)");
  if (k > n) return -std::numeric_limits<double>::infinity();
  const double q = 1.0 - p;
  const double kd = static_cast<double>(k), nd = static_cast<double>(n);
  if (k == 0) return nd * std::log1p(-p);
  if (k == n) return nd * std::log(p);
  const double log_core = loader::stirling_error(nd) - loader::stirling_error(kd) - loader::stirling_error(nd - kd) -
                          loader::deviance_term(kd, nd * p) - loader::deviance_term(nd - kd, nd * q);
  const double log_scale = std::log(2.0 * std::numbers::pi) + std::log(kd) + std::log1p(-kd / nd);
  return log_core - 0.5 * log_scale;
}

double log_binomial_upper_tail(std::uint64_t k, std::uint64_t n, double p) {
  if (!(p > 0.0 && p < 1.0)) throw Error(ErrorCode::invalid_argument, "binomial probability must be in (0, 1)");
  if (k == 0) return 0.0;
  if (k > n) return -std::numeric_limits<double>::infinity();
  if (k == n) return static_cast<double>(n) * std::log(p);
  const double a = static_cast<double>(k);
  const double b = static_cast<double>(n - k + 1);
  if (p < (a + 1.0) / (a + b + 2.0)) {
    // Upper tail is the small side: I_p(k, n-k+1), prefactor C(n,k) p^k q^(n-k+1) = pmf(k) q.
    const double log_prefactor = log_binomial_pmf(k, n, p) + std::log1p(-p);
    return log_prefactor + std::log(incomplete_beta_fraction(a, b, p));
  }
  // Lower tail is the small side: P(X >= k) = 1 - I_q(n-k+1, k), whose prefactor is
  // C(n,k-1) q^(n-k+1) p^k = pmf(k-1) p.
  const double log_prefactor = log_binomial_pmf(k - 1, n, p) + std::log(p);
  const double lower = std::exp(log_prefactor) * incomplete_beta_fraction(b, a, 1.0 - p);
  return std::log1p(-std::min(lower, 1.0));
}

BinomialTest binomial_test(std::uint64_t green, std::uint64_t scored, double gamma) {
  BinomialTest test;
  test.scored = scored;
  test.green = green;
  test.gamma = gamma;
  if (scored == 0) return test;  // nothing scored: p = 1, z = 0, never NaN
  const double n = static_cast<double>(scored);
  test.z = (static_cast<double>(green) - gamma * n) / std::sqrt(n * gamma * (1.0 - gamma));
  test.log_p = log_binomial_upper_tail(green, scored, gamma);
  test.log10_p = test.log_p / std::numbers::ln10;
  test.p_value = std::exp(test.log_p);
  return test;
}

std::string format_p_value(double log10_p) {
  char buffer[64];
  if (log10_p >= -4.0) {
    std::snprintf(buffer, sizeof buffer, "%.4g", std::pow(10.0, std::min(log10_p, 0.0)));
    return buffer;
  }
  double exponent = std::floor(log10_p);
  double mantissa = std::pow(10.0, log10_p - exponent);
  if (mantissa >= 9.995) {  // would print as "10.0"
    mantissa /= 10.0;
    exponent += 1.0;
  }
  std::snprintf(buffer, sizeof buffer, "%.2fe%.0f", mantissa, exponent);
  return buffer;
}

}  // namespace tracemark
