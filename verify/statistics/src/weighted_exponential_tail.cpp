#include "tracemark/verify/weighted_exponential_tail.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark {
namespace {

// g(theta) = -theta s - sum ln(1 - theta w) and its first two derivatives.
struct Exponent {
  double value = 0, slope = 0, curvature = 0;
};

Exponent exponent_at(std::span<const float> weights, double score, double theta) {
  Exponent e;
  e.value = -theta * score;
  e.slope = -score;
  for (float weight : weights) {
    const double w = static_cast<double>(weight);
    const double rest = 1.0 - theta * w;
    e.value -= std::log1p(-theta * w);
    e.slope += w / rest;
    e.curvature += (w / rest) * (w / rest);
  }
  return e;
}

}  // namespace

WeightedExponentialTest weighted_exponential_test(std::span<const float> weights, double score) {
  WeightedExponentialTest test;
  test.scored = weights.size();
  test.score = score;
  if (!(score >= 0.0) || !std::isfinite(score)) {
    throw Error(ErrorCode::invalid_argument, "weighted score " + std::to_string(score) + " is not a finite non-negative number");
  }
  double largest = 0;
  for (float weight : weights) {
    if (!(weight >= 0.0f) || !std::isfinite(weight)) {
      throw Error(ErrorCode::invalid_argument, "a step weight is " + std::to_string(weight) +
                                                   "; weights must be finite and non-negative");
    }
    test.weight_sum += static_cast<double>(weight);
    largest = std::max(largest, static_cast<double>(weight));
  }
  // At theta = 0 the exponent is 0 with slope weight_sum - score: a score at or below its null mean
  // gets p = 1 (the bound is never below the truth, and here it says nothing).
  if (largest == 0.0 || score <= test.weight_sum) return test;
  // g is convex on [0, 1/largest) and its slope goes from negative to +infinity: the minimum is
  // the root of the slope. Newton steps, kept inside a bracket that bisection shrinks when a step
  // leaves it; ends when the bracket or the step is below 1e-12 of the range.
  double low = 0.0, high = 1.0 / largest;
  double theta = 0.5 * high;
  Exponent best{0, 0, 0};  // theta = 0: the exponent 0 (p = 1) is always a valid bound
  for (int iteration = 0; iteration < 200; ++iteration) {
    const Exponent e = exponent_at(weights, score, theta);
    if (e.value < best.value) best = e;
    if (e.slope > 0) high = theta; else low = theta;
    double next = theta - e.slope / e.curvature;
    if (!(next > low && next < high)) next = 0.5 * (low + high);
    if (std::abs(next - theta) <= 1e-12 / largest || high - low <= 1e-12 / largest) break;
    theta = next;
  }
  test.log_p = std::min(0.0, best.value);
  test.log10_p = test.log_p / std::numbers::ln10;
  test.p_value = std::exp(test.log_p);
  return test;
}

}  // namespace tracemark
