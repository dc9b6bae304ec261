#include "tracemark/verify/colour_score_test.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {

double colour_log_mgf(double x, double gamma) {
  // ln(1 + gamma (e^x - 1)) for moderate x (for x very negative it tends to ln(1 - gamma)); for
  // large x, x + ln(gamma + (1 - gamma) e^-x), which never overflows.
  const double log_term = x < 30.0 ? std::log1p(gamma * std::expm1(x)) : x + std::log(gamma + (1.0 - gamma) * std::exp(-x));
  return log_term - gamma * x;
}

ColourScoreAccumulator::ColourScoreAccumulator(double gamma) : gamma_(gamma) {
  if (!(gamma > 0.0 && gamma < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "colour score: gamma " + std::to_string(gamma) + " is not in (0, 1)");
  }
  for (int l = 0; l < kLambdas; ++l) lambdas_[l] = std::exp2(-7.0 + 0.5 * l);
}

void ColourScoreAccumulator::add_window(std::span<const double> weights, std::span<const std::uint8_t> green) {
  if (weights.size() != green.size()) {
    throw Error(ErrorCode::internal, "colour score: weights and green flags of different lengths");
  }
  for (double a : weights) {
    if (!(std::abs(a) <= kMaxWeight)) {
      throw Error(ErrorCode::invalid_argument, "colour score: a weight of " + std::to_string(a) +
                                                   " is not a finite number within +-64");
    }
  }
  ++counts_.windows;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double a = weights[i];
    ++counts_.tokens;
    counts_.weight += a;
    if (green[i]) {
      ++counts_.green_tokens;
      counts_.green_weight += a;
    }
    counts_.score += a * ((green[i] ? 1.0 : 0.0) - gamma_);
    for (int l = 0; l < kLambdas; ++l) log_mgf_[l] += colour_log_mgf(lambdas_[l] * a, gamma_);
  }
}

ColourScoreTest ColourScoreAccumulator::result() const {
  ColourScoreTest test = counts_;
  // ln M = ln( (1/L) sum_l exp(lambda_l S - log_mgf_l) ), by log-sum-exp.
  std::array<double, kLambdas> exponents{};
  double largest = -std::numeric_limits<double>::infinity();
  for (int l = 0; l < kLambdas; ++l) {
    exponents[l] = lambdas_[l] * test.score - log_mgf_[l];
    largest = std::max(largest, exponents[l]);
  }
  double sum = 0;
  for (double e : exponents) sum += std::exp(e - largest);
  const double log_m = largest + std::log(sum) - std::log(static_cast<double>(kLambdas));
  test.log_p = std::min(0.0, -log_m);
  test.log10_p = test.log_p / std::numbers::ln10;
  test.p_value = std::exp(test.log_p);
  return test;
}

}  // namespace tracemark
