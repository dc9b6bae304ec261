// Checks shared by the tests of both green-list scheme versions and of detection.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "tracemark/embed/green_list_scheme.hpp"
#include "tracemark/verify/binomial.hpp"

namespace tracemark::testing {

// The exact size of the level-alpha test for n scored tuples: the binomial test is discrete, so
// P(p <= alpha) is at most alpha and usually a little less (the test is conservative).
inline double attainable_size(std::uint64_t n, double gamma, double alpha) {
  for (std::uint64_t k = 0; k <= n + 1; ++k) {
    const double tail = std::exp(log_binomial_upper_tail(k, n, gamma));
    if (tail < alpha) return tail;
  }
  return 0.0;
}

// Over 200 one-token contexts x a 50,257-id vocabulary (the scheme's own), the green count of each
// context and of all together is within 6 standard deviations of gamma times the count.
inline void expect_green_fraction_is_gamma(const GreenListScheme& scheme, double gamma) {
  constexpr std::uint32_t kVocab = 50257;
  std::uint64_t green = 0, total = 0;
  for (std::uint32_t c = 0; c < 200; ++c) {
    const std::uint32_t context[] = {c * 7919u};
    const std::uint64_t seed = scheme.context_seed(context);
    std::uint64_t context_green = 0;
    for (std::uint32_t t = 0; t < kVocab; ++t) context_green += scheme.is_green(seed, t);
    const double sd = std::sqrt(kVocab * gamma * (1 - gamma));
    EXPECT_LT(std::fabs(static_cast<double>(context_green) - kVocab * gamma), 6 * sd) << "context " << c;
    green += context_green;
    total += kVocab;
  }
  const double sd = std::sqrt(static_cast<double>(total) * gamma * (1 - gamma));
  EXPECT_LT(std::fabs(static_cast<double>(green) - static_cast<double>(total) * gamma), 6 * sd) << "gamma " << gamma;
}

}  // namespace tracemark::testing
