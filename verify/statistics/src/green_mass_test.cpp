#include "tracemark/verify/green_mass_test.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {

double green_mass_log_mgf(double x, double gamma) {
  // ln(1 + gamma (e^x - 1)) for moderate x; for large x, x + ln(gamma + (1 - gamma) e^-x), which
  // never overflows.
  const double log_term = x < 30.0 ? std::log1p(gamma * std::expm1(x)) : x + std::log(gamma + (1.0 - gamma) * std::exp(-x));
  return log_term - gamma * x;
}

GreenMassAccumulator::GreenMassAccumulator(double gamma) : gamma_(gamma) {
  if (!(gamma > 0.0 && gamma < 1.0)) {
    throw Error(ErrorCode::invalid_argument, "green-mass test: gamma " + std::to_string(gamma) + " is not in (0, 1)");
  }
  for (int l = 0; l < kLambdas; ++l) lambdas_[l] = std::exp2(-7.0 + 0.5 * l);
}

void GreenMassAccumulator::add_window(std::span<const double> weights, std::span<const std::uint8_t> green) {
  if (weights.size() != green.size()) {
    throw Error(ErrorCode::internal, "green-mass test: weights and green flags of different lengths");
  }
  double sum = 0;
  for (double w : weights) {
    if (!(w >= 0.0 && w <= 1.0)) {
      throw Error(ErrorCode::invalid_argument, "green-mass test: a probability of " + std::to_string(w) +
                                                   " is outside [0, 1]");
    }
    sum += w;
  }
  if (sum > 1.0 + 1e-3) {
    throw Error(ErrorCode::invalid_argument, "green-mass test: one window's probabilities sum to " +
                                                 std::to_string(sum) + ", more than 1");
  }
  ++counts_.windows;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double w = weights[i];
    ++counts_.tokens;
    counts_.mass += w;
    if (green[i]) counts_.green_mass += w;
    score_ += w * ((green[i] ? 1.0 : 0.0) - gamma_);
    for (int l = 0; l < kLambdas; ++l) log_mgf_[l] += green_mass_log_mgf(lambdas_[l] * w, gamma_);
  }
}

GreenMassTest GreenMassAccumulator::result() const {
  GreenMassTest test = counts_;
  test.green_share = test.mass > 0 ? test.green_mass / test.mass : 0.0;
  // ln M = ln( (1/L) sum_l exp(lambda_l S - log_mgf_l) ), by log-sum-exp.
  double largest = -INFINITY;
  std::array<double, kLambdas> exponents{};
  for (int l = 0; l < kLambdas; ++l) {
    exponents[l] = lambdas_[l] * score_ - log_mgf_[l];
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
