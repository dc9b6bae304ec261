// Exact binomial tail probabilities in log space, for p-values that stay accurate far below the
// smallest double. No normal approximation is used anywhere.
#pragma once

#include <cstdint>
#include <string>

namespace tracemark {

// Natural log of the binomial probability mass P(X = k), X ~ Binomial(n, p), 0 < p < 1.
// Loader's saddle-point form (C. Loader, "Fast and Accurate Computation of Binomial
// Probabilities", 2000): relative error near machine precision for all n, no cancellation.
double log_binomial_pmf(std::uint64_t k, std::uint64_t n, double p);

// Natural log of the upper tail P(X >= k), X ~ Binomial(n, p), 0 < p < 1. Returns 0 for k = 0
// and -infinity for k > n. Computed as the regularized incomplete beta I_p(k, n - k + 1)
// (Abramowitz & Stegun 26.5.24 / 6.6.4) by its continued fraction (A&S 26.5.8, modified Lentz),
// with the prefactor taken from log_binomial_pmf, so the result keeps full relative precision
// down to log P of about -1e300.
double log_binomial_upper_tail(std::uint64_t k, std::uint64_t n, double p);

// Result of the one-sided test "more green tokens than chance".
struct BinomialTest {
  std::uint64_t scored = 0;
  std::uint64_t green = 0;
  double gamma = 0;    // null probability of green per scored tuple
  double z = 0;        // (green - gamma n) / sqrt(n gamma (1 - gamma)); 0 when n = 0 (descriptive only)
  double log_p = 0;    // natural log of the exact p-value P(X >= green)
  double log10_p = 0;  // log_p / ln 10
  double p_value = 1;  // exp(log_p); underflows to 0 below about 1e-308: print with format_p_value
};

BinomialTest binomial_test(std::uint64_t green, std::uint64_t scored, double gamma);

// A p-value as a decimal number from its log10, never printed as 0: "0.0123", "3.2e-14",
// "1.5e-4012" (valid JSON number syntax).
std::string format_p_value(double log10_p);

}  // namespace tracemark
