#include "tracemark/verify/two_sample.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tracemark/verify/binomial.hpp"

namespace tracemark {
namespace {

// ln(exp(a) + exp(b)) without overflow.
double log_add(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double high = std::max(a, b);
  return high + std::log1p(std::exp(std::min(a, b) - high));
}

// Terms smaller than this fraction of the running sum no longer change a double.
constexpr double kNegligible = -40.0;  // ln(4e-18)

}  // namespace

double log_hypergeometric_pmf(std::uint64_t x, std::uint64_t n_a, std::uint64_t n_b, std::uint64_t successes) {
  const std::uint64_t total = n_a + n_b;
  const double minus_infinity = -std::numeric_limits<double>::infinity();
  if (successes > total || x > n_a || x > successes || successes - x > n_b) return minus_infinity;
  if (successes == 0 || successes == total) return 0.0;  // one possible arrangement
  const double p = static_cast<double>(successes) / static_cast<double>(total);
  return log_binomial_pmf(x, n_a, p) + log_binomial_pmf(successes - x, n_b, p) - log_binomial_pmf(successes, total, p);
}

double log_fisher_exact_greater(std::uint64_t green_a, std::uint64_t scored_a, std::uint64_t green_b,
                                std::uint64_t scored_b) {
  if (scored_a == 0 || scored_b == 0) return 0.0;
  const std::uint64_t s = green_a + green_b;
  const std::uint64_t low = s > scored_b ? s - scored_b : 0;  // support of X: [low, high]
  const std::uint64_t high = std::min(scored_a, s);
  if (green_a <= low) return 0.0;
  // The mode of the hypergeometric law: floor((n_a + 1)(s + 1) / (N + 2)).
  const double mode = std::floor((static_cast<double>(scored_a) + 1) * (static_cast<double>(s) + 1) /
                                 (static_cast<double>(scored_a + scored_b) + 2));
  if (static_cast<double>(green_a) > mode) {
    // Upper tail: terms fall from green_a upwards.
    double sum = -std::numeric_limits<double>::infinity();
    for (std::uint64_t x = green_a; x <= high; ++x) {
      const double term = log_hypergeometric_pmf(x, scored_a, scored_b, s);
      sum = log_add(sum, term);
      if (term - sum < kNegligible) break;
    }
    return std::min(0.0, sum);
  }
  // The observed value is at or below the mode: P(X >= x) = 1 - P(X <= x - 1), whose terms fall
  // from x - 1 downwards; the lower tail is then at most about one half, so no precision is lost.
  double lower = -std::numeric_limits<double>::infinity();
  for (std::uint64_t x = green_a - 1;; --x) {
    const double term = log_hypergeometric_pmf(x, scored_a, scored_b, s);
    lower = log_add(lower, term);
    if (term - lower < kNegligible || x == low) break;
  }
  return std::log1p(-std::min(1.0, std::exp(lower)));
}

double minimum_detectable_rate(std::uint64_t n, double gamma, double alpha) {
  const double target = std::log(alpha);
  const auto detected = [&](double rate) {
    const auto green = static_cast<std::uint64_t>(std::ceil(rate * static_cast<double>(n)));
    return log_binomial_upper_tail(std::min(green, n), n, gamma) < target;
  };
  if (n == 0 || !detected(1.0)) return 1.0;
  double below = gamma, above = 1.0;
  for (int i = 0; i < 60 && above - below > 1e-9; ++i) {
    const double middle = 0.5 * (below + above);
    (detected(middle) ? above : below) = middle;
  }
  return above;
}

}  // namespace tracemark
