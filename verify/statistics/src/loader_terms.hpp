// Loader's building blocks for probability masses without cancellation (C. Loader, "Fast and
// Accurate Computation of Binomial Probabilities", 2000), shared by the binomial and gamma tails.
// Private to verify/statistics.
#pragma once

#include <cmath>
#include <numbers>

namespace tracemark::loader {

// stirlerr(n) = ln(n!) - ln(sqrt(2 pi n) (n/e)^n), the error of Stirling's formula (Loader 2000).
inline double stirling_error(double n) {
  constexpr double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680, s4 = 1.0 / 1188;
  if (n <= 15.0) {
    // Small n: direct evaluation; the terms are at most ~45 in size, so the absolute error stays
    // near 1e-14, far below what a p-value needs.
    return std::lgamma(n + 1.0) - (n + 0.5) * std::log(n) + n - 0.5 * std::log(2.0 * std::numbers::pi);
  }
  const double nn = n * n;
  if (n > 500) return (s0 - s1 / nn) / n;
  if (n > 80) return (s0 - (s1 - s2 / nn) / nn) / n;
  if (n > 35) return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
  return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

// bd0(x, m) = x ln(x/m) + m - x, the deviance term, computed without cancellation (Loader 2000).
inline double deviance_term(double x, double m) {
  if (std::fabs(x - m) < 0.1 * (x + m)) {
    double v = (x - m) / (x + m);
    double sum = (x - m) * v;
    double term = 2.0 * x * v;
    v *= v;
    for (int j = 1; j < 1000; ++j) {
      term *= v;
      const double next = sum + term / (2 * j + 1);
      if (next == sum) return next;
      sum = next;
    }
    return sum;
  }
  return x * std::log(x / m) + m - x;
}

}  // namespace tracemark::loader
